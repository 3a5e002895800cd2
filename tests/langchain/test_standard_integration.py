"""LangChain's standard integration tests (``ChatModelIntegrationTests``) replayed from cassettes.

Every test replays ``cassettes/langchain/test_standard_integration/<Class>.<test>[<param>].yaml`` with the
network blocked (pytest-socket allows loopback only; the model points at a placeholder where nothing
listens, and vcrpy answers). The cassettes were recorded from the loopback Azure test server, taught to
answer these tests as a model would (``tests/langchain/responder.py``: the relevant tool is called,
JSON mode names the asked-for keys, usage always present) and given a second deployment (``gpt-4o``) for
the per-call ``model=`` override tests. Re-record, or run the suite live without cassettes::

    pytest tests/langchain/test_standard_integration.py --record-mode=rewrite -p no:cacheprovider
    pytest tests/langchain/test_standard_integration.py --disable-recording -p no:cacheprovider

Each model gets this test's own ``httpx.Client`` and ``httpx.AsyncClient`` (httpx's transport): the
gateway's shared async client runs on aiohttp, whose vcrpy replay drops response headers
(kevin1024/vcrpy#970), and the request id, content type and filter results would vanish with them.

Two standard tests get their own cassette settings (``tests/langchain/conftest.py``, ``_REPLAY_MARKS``):
``test_stream_time`` replays its one recording every benchmark round, and
``test_structured_few_shot_examples``, whose history carries a fresh ``uuid4`` tool call id on every run,
matches bodies with each UUID replaced by its order of appearance (tested at the end of this module).
"""

from __future__ import annotations

import base64
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.integration_tests import chat_models as standard
from vcr.request import Request

from langchain_azure_gateway import AzureGatewayChatModel
from tests.langchain.conftest import match_json_body_uuids_by_position
from tests.langchain.responder import realistic_responder
from tests.support.azure_server import DeploymentInfo, Reply, Usage
from tests.support.cassettes import CassetteEndpoint

OVERRIDE_DEPLOYMENT = DeploymentInfo(model="gpt-4o-2024-11-20", system_fingerprint="fp_ee1d74bde0")
AUDIO_DEPLOYMENT = "gpt-4o-audio-preview"
# The standard PDF and audio tests download their inputs from w3.org and wikimedia; recording allows loopback
# only, so these small stand-ins are what they send (the downloads are the test suite's, not our code).
TINY_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n%%EOF\n"
TINY_WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00"
TINY_WAV += b"\x02\x00\x10\x00data\x00\x00\x00\x00"


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    """One TLS context for every client: building one per client would double this suite's run time."""
    return httpx.create_ssl_context()


@pytest.mark.vcr
class TestAzureGatewayChatModelStandardIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    async def _endpoint(
        self,
        azure_endpoint: CassetteEndpoint,
        tls: ssl.SSLContext,
        request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch,
    ) -> AsyncIterator[None]:
        # The standard PDF and audio tests download their inputs themselves; standard tests may not be
        # overridden, so the downloads (the suite's, not our code) are replaced here, and audio goes to an audio
        # deployment (the gateway refuses audio for gpt-4o-mini before sending, as Azure would answer 400).
        name = request.node.name
        self._deployment = AUDIO_DEPLOYMENT if name == "test_audio_inputs" else "gpt-4o-mini"
        if name == "test_pdf_inputs":
            monkeypatch.setattr(standard.httpx, "get", lambda *_a, **_k: httpx.Response(200, content=TINY_PDF))
        if name == "test_audio_inputs":
            monkeypatch.setattr(standard, "_get_base64_from_url", lambda _url: base64.b64encode(TINY_WAV).decode())
        server = azure_endpoint.server
        if server is not None:
            server.set_default(realistic_responder)
            server.deployments["gpt-4o"] = OVERRIDE_DEPLOYMENT
            server.deployments[AUDIO_DEPLOYMENT] = DeploymentInfo(model="gpt-4o-audio-preview-2024-12-17")
        self._azure = azure_endpoint
        async with httpx.AsyncClient(verify=tls) as async_client:
            with httpx.Client(verify=tls) as client:
                self._clients = (client, async_client)
                yield

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AzureGatewayChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        client, async_client = self._clients
        return {
            "azure_endpoint": self._azure.url,
            "api_key": self._azure.api_key,
            "azure_deployment": self._deployment,
            "openai_api_version": "2024-10-21",
            "deployment_mapping": {"gpt-4o": "gpt-4o", "gpt-4o-mini": "gpt-4o-mini"},
            "max_retries": 0,
            "http_client": client,
            "http_async_client": async_client,
        }

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str | None:
        return "gpt-4o"

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[Any, list[Any]]:
        return {
            "invoke": ["cache_read_input", "reasoning_output"],
            "stream": ["cache_read_input", "reasoning_output"],
        }

    def _invoke_with_usage(self, usage: Usage, *, stream: bool) -> AIMessage:
        if self._azure.server is not None:
            self._azure.server.script(Reply("Hello from the cache.", usage=usage))
        model = AzureGatewayChatModel(**self.chat_model_params)
        if not stream:
            return model.invoke("Hello")
        full: AIMessageChunk | None = None
        for chunk in model.stream("Hello"):
            full = chunk if full is None else full + chunk
        assert full is not None
        return full

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        return self._invoke_with_usage(
            Usage(prompt_tokens=1200, completion_tokens=5, cached_tokens=1024), stream=stream
        )

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        return self._invoke_with_usage(
            Usage(prompt_tokens=12, completion_tokens=80, reasoning_tokens=64), stream=stream
        )

    @pytest.mark.xfail(
        reason="the test downloads its PNG from raw.githubusercontent.com itself: recording allows loopback only, "
        "and the image would be a binary body in the cassette",
        run=False,
    )
    def test_image_inputs(self, model: BaseChatModel) -> None:
        super().test_image_inputs(model)


# ------------------------------------------------------------------------------------------ the UUID matcher


def _chat_request(call_id: str, answered_id: str, question: str = "What is 3 + 4") -> Request:
    body = {
        "messages": [
            {"role": "assistant", "content": None, "tool_calls": [{"id": call_id, "type": "function"}]},
            {"role": "tool", "tool_call_id": answered_id, "content": '{"result": 3}'},
            {"role": "user", "content": question},
        ]
    }
    uri = "https://example-resource.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions"
    return Request("POST", uri, json.dumps(body), {"content-type": "application/json"})


def test_uuid_matcher_matches_bodies_whose_uuids_differ_only_in_value() -> None:
    recorded, live = str(uuid.uuid4()), str(uuid.uuid4())

    match_json_body_uuids_by_position(_chat_request(recorded, recorded), _chat_request(live, live))


def test_uuid_matcher_rejects_a_tool_message_answering_another_id() -> None:
    recorded = str(uuid.uuid4())

    with pytest.raises(AssertionError, match="differ beyond their UUIDs"):
        match_json_body_uuids_by_position(
            _chat_request(recorded, recorded), _chat_request(str(uuid.uuid4()), str(uuid.uuid4()))
        )


def test_uuid_matcher_rejects_bodies_that_differ_beyond_their_uuids() -> None:
    same = str(uuid.uuid4())

    with pytest.raises(AssertionError, match="differ beyond their UUIDs"):
        match_json_body_uuids_by_position(_chat_request(same, same), _chat_request(same, same, "What is 5 + 6"))
