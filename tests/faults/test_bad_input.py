"""Bad input is a typed error naming the field, raised before anything is sent (issue 12 item 5).

It escaped as ``UnicodeEncodeError`` (a lone surrogate), ``RecursionError`` (a schema nested too deep),
``TypeError`` (a set, a number where text goes), and ``NaN``/``Infinity`` were sent as JSON no parser accepts.
"""

from __future__ import annotations

from typing import Literal

import pytest

from shared_core import (
    ChatRequest,
    ConfigurationError,
    ConversationError,
    Gateway,
    GatewayError,
    GenerationSettings,
    Message,
    ToolSpec,
    load_config,
)
from tests.faults.channels import DEPLOYMENT, KEY
from tests.support.azure_server import AzureTestServer

Api = Literal["chat", "responses"]


def _deep(levels: int) -> dict[str, object]:
    root: dict[str, object] = {}
    node = root
    for _ in range(levels):
        child: dict[str, object] = {}
        node["a"] = child
        node = child
    return root


def _ask(**kwargs: object) -> ChatRequest:
    return ChatRequest(messages=(Message.user("hi"),), **kwargs)  # type: ignore[arg-type]


CASES: dict[str, tuple[ChatRequest, type[GatewayError], str]] = {
    "lone surrogate in a message": (
        ChatRequest(messages=(Message.user("caf\udce9 au lait"),)),
        ConversationError,
        "lone surrogate",
    ),
    "NaN temperature": (_ask(settings=GenerationSettings(temperature=float("nan"))), ConfigurationError, "temperature"),
    "Infinity in a tool schema": (
        _ask(tools=(ToolSpec("f", parameters={"type": "object", "maximum": float("inf")}),)),
        ConfigurationError,
        "maximum: inf is not a JSON number",
    ),
    "a schema nested past the recursion limit": (
        _ask(tools=(ToolSpec("f", parameters=_deep(5000)),)),  # type: ignore[arg-type]
        ConfigurationError,
        "nested more than",
    ),
    "a set in a tool schema": (
        _ask(tools=(ToolSpec("f", parameters={"type": "object", "enum": {"a", "b"}}),)),  # type: ignore[dict-item]
        ConfigurationError,
        "a set is not a JSON value",
    ),
    "NaN in extra_body": (
        _ask(settings=GenerationSettings(extra_body={"x": float("nan")})),
        ConfigurationError,
        "x: nan",
    ),
}


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_typed_error_naming_the_field_before_anything_is_sent(
    server: AzureTestServer, case: str, api: Api
) -> None:
    request, kind, says = CASES[case]
    version = "2024-10-21" if api == "chat" else "preview"
    config = load_config(
        env={}, endpoint=server.endpoint, api_key=KEY, default_deployment=DEPLOYMENT, api_version=version
    )
    with pytest.raises(kind) as caught:
        Gateway(config, api=api).complete(request)
    assert says in caught.value.message
    assert server.request_count == 0, "nothing was sent"
