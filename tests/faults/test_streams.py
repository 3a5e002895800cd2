"""Fault matrix, streams: cut mid-way, ended without a terminal event, Azure's empty-choices first chunk, filter
annotation chunks with no delta, and the content filter firing mid-answer.

Each runs through the gateway, LangChain and LlamaIndex, both API shapes where Azure sends the quirk on both.
"No duplicated tokens" is read from what the caller received: the pieces, joined, are a prefix of what the
emulator sent, each piece once, and a started stream is never sent again (the emulator counts one request).
LlamaIndex holds one chunk back to enrich it with the final ``raw``, so its caller may see one piece fewer
before a break; the error's ``partial`` always holds everything received.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from langchain_core.exceptions import ModelConnectionError, ModelInvalidRequestError

from azure_openai_emulator import shapes
from shared_core import ContentFilterError, Gateway, StreamInterruptedError
from shared_core.messages import JsonValue
from tests.faults.channels import CHANNELS, MODES, STREAMS, Api, Channel, Mode, Target, build, run
from tests.faults.regions import counts
from tests.support.azure_server import AzureTestServer, Reply, Unparsable

APIS: tuple[Api, ...] = ("chat", "responses")
NOT_REACHED = Reply("this answer must never be requested")
ANSWER = "alpha beta gamma delta epsilon"
# Frames up to and including the first text delta: chat opens with the prompt-filter and role chunks, the
# Responses API with created / in_progress / output_item.added / content_part.added.
FIRST_TEXT_FRAME = {"chat": 3, "responses": 5}


def _pieces_before_break(channel: Channel, sent: list[str]) -> list[str]:
    return sent[:-1] if channel == "llamaindex" else sent


# -- stream cut mid-way ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", STREAMS)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("api", APIS)
def test_fault_stream_cut_mid_way_reports_partial_without_replay_or_duplicates(
    server: AzureTestServer, api: Api, channel: Channel, mode: Mode
) -> None:
    server.script(Reply(ANSWER, cut_after=FIRST_TEXT_FRAME[api] + 1), NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint, api=api)), mode)

    error = seen.error
    assert isinstance(error, StreamInterruptedError)
    assert error.partial is not None and error.partial.text == "alpha beta"
    assert seen.pieces == _pieces_before_break(channel, ["alpha", " beta"]), "each piece once, in order"
    assert server.request_count == 1, "a started stream is never sent again"
    if channel == "langchain":
        assert isinstance(error, ModelConnectionError)
        assert error.partial_message is not None and error.partial_message.text == "alpha beta"  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", STREAMS)
def test_fault_stream_cut_mid_way_is_not_replayed_on_a_sibling_region(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway], mode: Mode
) -> None:
    regions["east"].script(Reply(ANSWER, cut_after=FIRST_TEXT_FRAME["chat"] + 1))
    gateway = routed()
    seen = run(gateway, mode)

    assert isinstance(seen.error, StreamInterruptedError)
    assert seen.pieces == ["alpha", " beta"]
    assert counts(regions) == {"east": 1, "west": 0, "north": 0}, "no failover once output was seen"


# -- a stream that ends without its terminal event ------------------------------------------------------------


def _stream_without_end(api: Api) -> bytes:
    completion = shapes.Completion(
        response_id="chatcmpl-unfinished" if api == "chat" else "resp_unfinished",
        created=1_700_000_000,
        model="gpt-4o-mini",
        text_pieces=("Half", " an", " answer"),
    )
    frames = (
        shapes.chat_stream(completion, include_usage=False)
        if api == "chat"
        else shapes.responses_stream(completion, {})
    )
    return b"".join(frames[:-1])  # without [DONE] / response.completed, then a clean close


@pytest.mark.parametrize("mode", STREAMS)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("api", APIS)
def test_fault_stream_without_terminal_event_is_interrupted_with_partial(
    server: AzureTestServer, api: Api, channel: Channel, mode: Mode
) -> None:
    server.script(Unparsable(body=_stream_without_end(api)), NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint, api=api)), mode)

    error = seen.error
    assert isinstance(error, StreamInterruptedError), "a clean close before the end is not a finished answer"
    assert "terminal event" in error.message
    assert error.partial is not None and error.partial.text == "Half an answer"
    assert error.partial.text.startswith(seen.joined) and len(seen.pieces) >= 2
    assert server.request_count == 1


# -- Azure's empty-choices first chunk ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", STREAMS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_empty_choices_first_chunk_gives_no_empty_token_and_keeps_its_verdicts(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    # Azure's first chunk is {"choices": [], "prompt_filter_results": [...]} with empty id and model.
    server.script(Reply("alpha beta"))
    seen = run(build(channel, Target(server.endpoint)), mode)

    assert seen.error is None
    assert "" not in seen.pieces, "no empty token for a chunk without choices"
    assert seen.pieces[0] == "alpha"
    assert seen.text == "alpha beta"
    assert seen.prompt_filter_results == 1, "its prompt_filter_results are kept, not dropped"


# -- filter annotation chunks with no delta ------------------------------------------------------------------------

ANNOTATION: dict[str, JsonValue] = {
    "hate": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "low"},
}


def _annotation_chunk(delta: str) -> bytes:
    # Azure's asynchronous filter sends verdicts after the text they cover, in chunks with no delta (absent or
    # null) and content_filter_offsets.
    choice: dict[str, JsonValue] = {
        "index": 0,
        "finish_reason": None,
        "content_filter_results": dict(ANNOTATION),
        "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 10},
    }
    if delta == "null":
        choice["delta"] = None
    chunk: dict[str, JsonValue] = {
        "choices": [choice],
        "created": 1_700_000_000,
        "id": "chatcmpl-annotated",
        "model": "gpt-4o-mini-2024-07-18",
        "object": "chat.completion.chunk",
        "system_fingerprint": None,
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _annotated_stream() -> bytes:
    completion = shapes.Completion(
        response_id="chatcmpl-annotated", created=1_700_000_000, model="gpt-4o-mini", text_pieces=("Safe", " words")
    )
    frames = shapes.chat_stream(completion, include_usage=True)
    # prompt filter, role, "Safe", " words", finish, usage, [DONE]: annotations after each text chunk.
    return b"".join([*frames[:3], _annotation_chunk("absent"), frames[3], _annotation_chunk("null"), *frames[4:]])


@pytest.mark.parametrize("mode", STREAMS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_filter_annotation_chunks_without_delta_are_kept_and_emit_nothing(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    server.script(Unparsable(body=_annotated_stream()))
    seen = run(build(channel, Target(server.endpoint)), mode)

    assert seen.error is None
    assert seen.pieces == ["Safe", " words"], "an annotation chunk is no token"
    assert seen.text == "Safe words"
    assert seen.content_filter["violence"] == ANNOTATION["violence"], "the verdicts are kept, not dropped"


# -- content filter mid-stream ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("api", APIS)
def test_fault_content_filter_mid_stream_raises_typed_with_partial(
    server: AzureTestServer, api: Api, channel: Channel, mode: Mode
) -> None:
    verdict = shapes.FilterVerdict("violence", "high")
    server.script(Reply("one two three four", filter_after=2, filter=verdict), NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint, api=api)), mode)

    error = seen.error
    assert isinstance(error, ContentFilterError)
    assert error.side == "completion"
    assert error.partial_text == "one two", "what came before the filter is reported"
    assert error.partial_text.startswith(seen.joined)
    if mode in STREAMS:
        assert seen.pieces == _pieces_before_break(channel, ["one", " two"])
    if api == "chat":  # the Responses API names no category (recorded)
        assert error.filtered_categories == ("violence",)
    if channel == "langchain":
        assert isinstance(error, ModelInvalidRequestError)
        assert error.partial_message is not None and error.partial_message.text == "one two"  # type: ignore[attr-defined]
    assert server.request_count == 1, "a filtered answer is not retried"
