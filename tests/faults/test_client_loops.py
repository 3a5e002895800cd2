"""A user's ``httpx.AsyncClient`` reused from a second ``asyncio.run`` (a second notebook cell) (issue 12 item 5).

Its pooled connection belongs to the first, closed loop. The error used to say "do not close an http_client
you passed in", which the user had not done; it now says what happened and how to fix it.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared_core import ChatRequest, ConfigurationError, Gateway, Message, load_config
from tests.faults.channels import DEPLOYMENT, KEY
from tests.support.azure_server import AzureTestServer

REQUEST = ChatRequest(messages=(Message.user("hello"),))


def test_an_async_client_reused_from_a_second_asyncio_run_names_the_closed_loop(server: AzureTestServer) -> None:
    client = httpx.AsyncClient()
    config = load_config(env={}, endpoint=server.endpoint, api_key=KEY, default_deployment=DEPLOYMENT, max_retries=0)
    gateway = Gateway(config, async_http_client=client)
    assert asyncio.run(gateway.acomplete(REQUEST)).text == "You said: hello"
    with pytest.raises(ConfigurationError) as caught:
        asyncio.run(gateway.acomplete(REQUEST))
    message = caught.value.message
    assert "bound to an event loop that has closed" in message
    assert "create the AsyncClient inside the loop" in message and "do not close" not in message
