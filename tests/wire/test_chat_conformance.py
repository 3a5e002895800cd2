"""The Chat Completions codec against real Azure traffic (``../shared/azure-recordings``).

Every expected value here is derived by the test itself from the raw JSON with plain dict walking; the codec's
own helpers are never used to compute what the codec should say. Run with ``-s`` to see the counts.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from shared_core.deployments import profile_for
from shared_core.errors import ContentFilterError, InvalidResponseError
from shared_core.result import ChatResult, PromptFilterEvent, StreamAccumulator, TextDelta
from shared_core.wire.chat_completions import ChatStreamDecoder, decode_error, decode_response
from tests.support.recordings import Interaction, azure_interactions
from tests.support.request_bodies import NotExpressible, recorded_api_version, reencode_recorded

MAX_COMPLETION_TOKENS_SINCE = "2024-08-01"


@pytest.fixture(scope="module")
def chat() -> list[Interaction]:
    return [i for i in azure_interactions() if i.api_shape == "chat"]


def sse_data(body: bytes) -> list[str]:
    """A deliberately minimal SSE splitter (independent of transport/sse.py): blank-line records, data lines."""
    records: list[str] = []
    for block in body.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        lines = [line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")]
        if lines:
            records.append("\n".join(lines))
    return records


def is_error_under_success(i: Interaction) -> bool:
    """The hand-edited traceloop fixtures that store a 400 error body under status 200 (recordings README)."""
    body = json.loads(i.response_body) if not i.is_stream else None
    return isinstance(body, dict) and "error" in body and "choices" not in body


# ---------------------------------------------------------------- independent expectations


def prompt_verdicts(results: list[Any]) -> list[tuple[int, Any]]:
    # Azure names the verdict content_filter_result (singular) when the prompt held an image.
    return [(p["prompt_index"], p.get("content_filter_results", p.get("content_filter_result"))) for p in results]


def usage_tuple(u: Any) -> tuple[int, int, int, int, int] | None:
    if not isinstance(u, dict):
        return None
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    reasoning = (u.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
    return (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"], cached, reasoning)


def args_or_invalid(raw: str) -> Any:
    if raw == "":
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return "INVALID"
    return value if isinstance(value, dict) else "INVALID"


def expected_from_json(body: dict[str, Any]) -> dict[str, Any]:
    choice = body["choices"][0] if body["choices"] else {}
    message = choice.get("message") or {}
    calls = [
        (c["id"], c["function"]["name"], args_or_invalid(c["function"]["arguments"]))
        for c in message.get("tool_calls") or []
    ]
    return {
        "text": message.get("content") or "",
        "tool_calls": calls,
        "usage": usage_tuple(body.get("usage")),
        "finish": choice.get("finish_reason"),
        "prompt_filters": prompt_verdicts(body.get("prompt_filter_results", [])),
        "content_filter": choice.get("content_filter_results") or {},
        "id": body.get("id") or None,
        "model": body.get("model") or None,
        "refusal": message.get("refusal") or None,
    }


def expected_from_stream(records: list[str]) -> dict[str, Any]:
    text, refusal = [], []
    calls: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {"usage": None, "finish": None, "prompt_filters": [], "id": None, "model": None}
    filters: dict[str, bool] = {}
    for data in records:
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        out["id"] = chunk.get("id") or out["id"]
        out["model"] = chunk.get("model") or out["model"]
        out["prompt_filters"] += prompt_verdicts(chunk.get("prompt_filter_results", []))
        if isinstance(chunk.get("usage"), dict):
            out["usage"] = usage_tuple(chunk["usage"])
        for choice in chunk["choices"]:
            for name, verdict in (choice.get("content_filter_results") or {}).items():
                filters[name] = filters.get(name, False) or verdict.get("filtered") is True
            d = choice.get("delta") or {}
            text.append(d.get("content") or "")
            refusal.append(d.get("refusal") or "")
            for call in d.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": "", "name": "", "args": ""})
                slot["id"] = slot["id"] or call.get("id") or ""
                slot["name"] = slot["name"] or (call.get("function") or {}).get("name") or ""
                slot["args"] += (call.get("function") or {}).get("arguments") or ""
            out["finish"] = choice.get("finish_reason") or out["finish"]
    out["text"] = "".join(text)
    out["refusal"] = "".join(refusal) or None
    out["tool_calls"] = [(c["id"], c["name"], args_or_invalid(c["args"])) for _, c in sorted(calls.items())]
    out["raw_calls"] = tuple((c["name"], c["args"]) for _, c in sorted(calls.items()))
    out["filtered"] = filters
    return out


def observed(result: ChatResult) -> dict[str, Any]:
    calls = [(c.id, c.name, c.arguments) for c in result.tool_calls]
    calls += [(c.id, c.name, "INVALID") for c in result.invalid_tool_calls]
    u = result.usage
    return {
        "text": result.text,
        "tool_calls": sorted(calls, key=lambda c: [p.id for p in result.message.tool_calls].index(c[0])),
        "usage": None
        if u is None
        else (u.input_tokens, u.output_tokens, u.total_tokens, u.cached_input_tokens, u.reasoning_tokens),
        "finish": result.finish_reason,
        "prompt_filters": [(p.prompt_index, dict(p.content_filter_results)) for p in result.prompt_filter_results],
        "content_filter": dict(result.content_filter_results),
        "id": result.response_id,
        "model": result.model,
        "refusal": result.refusal,
    }


# ---------------------------------------------------------------- decoding


def test_chat_conformance_decode_response_matches_raw_json(chat: list[Interaction]) -> None:
    decoded = 0
    for i in chat:
        if i.status != 200 or i.is_stream or is_error_under_success(i):
            continue
        body = json.loads(i.response_body)
        assert observed(decode_response(body)) == expected_from_json(body), i.name
        decoded += 1
    print(f"\nchat JSON responses decoded: {decoded}")
    assert decoded >= 240


def test_chat_conformance_hand_edited_error_under_success_is_refused_and_classified(chat: list[Interaction]) -> None:
    odd = [i for i in chat if i.status == 200 and not i.is_stream and is_error_under_success(i)]
    assert odd and all(i.hand_edited for i in odd)
    for i in odd:
        body = json.loads(i.response_body)
        with pytest.raises(InvalidResponseError):
            decode_response(body)
        assert isinstance(decode_error(400, body), ContentFilterError) == (body["error"]["code"] == "content_filter")
    print(f"\nhand-edited error bodies stored under 200: {len(odd)}")


def fold_stream(records: list[str]) -> tuple[ChatResult, ChatStreamDecoder, list[tuple[str, tuple[Any, ...]]]]:
    decoder = ChatStreamDecoder()
    acc = StreamAccumulator()
    log: list[tuple[str, tuple[Any, ...]]] = []
    for data in records:
        events = decoder.decode(None, data)
        log.append((data, events))
        for event in events:
            acc.add(event)
    return acc.result(), decoder, log


def test_chat_conformance_streams_fold_to_concatenated_deltas(chat: list[Interaction]) -> None:
    streams = chunks = 0
    for i in chat:
        if i.status != 200 or not i.is_stream:
            continue
        records = sse_data(i.response_body)
        result, decoder, log = fold_stream(records)
        want = expected_from_stream(records)
        got = observed(result)
        assert decoder.done, i.name
        for key in ("text", "tool_calls", "usage", "finish", "prompt_filters", "id", "model", "refusal"):
            assert got[key] == want[key], (i.name, key)
        assert {k: v.get("filtered") is True for k, v in got["content_filter"].items()} == want["filtered"], i.name
        for data, events in log:
            assert all(e.text for e in events if isinstance(e, TextDelta)), i.name
            if data != "[DONE]" and json.loads(data)["choices"] == [] and "prompt_filter_results" in data:
                assert events and all(isinstance(e, PromptFilterEvent) for e in events), i.name
        streams += 1
        chunks += len(records)
    print(f"\nchat streams decoded: {streams} ({chunks} SSE records)")
    assert streams >= 150


def test_chat_conformance_errors_typed_exactly_for_content_filter(chat: list[Interaction]) -> None:
    errors = Counter[str]()
    for i in chat:
        if i.status < 400:
            continue
        body = json.loads(i.response_body)
        error = decode_error(i.status, body)
        if body["error"].get("code") != "content_filter":
            assert error is None, i.name
            errors["other"] += 1
            continue
        assert isinstance(error, ContentFilterError), i.name
        raw = body["error"]["innererror"]["content_filter_result"]
        assert [c.name for c in error.categories] == sorted(raw), i.name
        assert set(error.filtered_categories) == {k for k, v in raw.items() if v.get("filtered")}, i.name
        assert error.status == i.status
        errors["content_filter"] += 1
    print(f"\nchat error bodies classified: {dict(errors)}")
    assert errors["content_filter"] >= 10 and errors["other"] >= 10


# ---------------------------------------------------------------- stream / non-stream parity


def synthetic_stream(body: dict[str, Any]) -> list[str]:
    """The SSE records Azure would send for this completion (the quirks of the recordings README)."""
    choice = body["choices"][0]
    message = choice.get("message") or {}
    top = {k: body.get(k) for k in ("created", "id", "model", "system_fingerprint")}
    top["object"] = "chat.completion.chunk"

    def chunk(delta: Any, *, filters: Any = None, finish: Any = None) -> str:
        c = {"content_filter_results": filters or {}, "finish_reason": finish, "index": 0, "logprobs": None}
        if delta is not None:
            c["delta"] = delta
        return json.dumps({"choices": [c], **top, "usage": None})

    out = [
        json.dumps(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": body.get("prompt_filter_results", []),
            }
        )
    ]
    out.append(chunk({"content": "", "refusal": None, "role": "assistant"}))
    verdicts = list((choice.get("content_filter_results") or {}).items())
    text = message.get("content") or ""
    for n, start in enumerate(range(0, len(text), 7)):
        out.append(chunk({"content": text[start : start + 7]}, filters=dict(verdicts[n % max(len(verdicts), 1) :][:1])))
    if message.get("refusal"):
        out.append(chunk({"refusal": message["refusal"]}))
    for index, call in enumerate(message.get("tool_calls") or []):
        args = call["function"]["arguments"]
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": args[:5]},
                        }
                    ]
                }
            )
        )
        for start in range(5, len(args), 6):
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": args[start : start + 6]}}]}))
    out.append(chunk(None, filters=dict(verdicts)))
    out.append(chunk({}, finish=choice.get("finish_reason")))
    if body.get("usage"):
        out.append(json.dumps({"choices": [], **top, "usage": body["usage"]}))
    out.append("[DONE]")
    return out


PARITY_FIELDS = (
    "message",
    "tool_calls",
    "invalid_tool_calls",
    "finish_reason",
    "usage",
    "response_id",
    "model",
    "created",
    "system_fingerprint",
    "refusal",
    "prompt_filter_results",
    "content_filter_results",
)


def test_chat_parity_synthetic_stream_of_every_recorded_completion(chat: list[Interaction]) -> None:
    compared = 0
    for i in chat:
        if i.status != 200 or i.is_stream or is_error_under_success(i):
            continue
        body = json.loads(i.response_body)
        expected = decode_response(body)
        folded, decoder, _ = fold_stream(synthetic_stream(body))
        assert decoder.done
        for name in PARITY_FIELDS:
            assert getattr(folded, name) == getattr(expected, name), (i.name, name)
        compared += 1
    print(f"\nsynthetic stream/non-stream parity: {compared} completions")
    assert compared >= 240


def raw_generation(i: Interaction) -> tuple[str, tuple[tuple[str, str], ...]]:
    if not i.is_stream:
        message = json.loads(i.response_body)["choices"][0]["message"]
        calls = tuple((c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or [])
        return message.get("content") or "", calls
    want = expected_from_stream(sse_data(i.response_body))
    return want["text"], want["raw_calls"]


def test_chat_parity_recorded_sync_and_stream_pairs(chat: list[Interaction]) -> None:
    """Mirascope recorded each prompt as a call and as a stream; where the model said the same, so must we."""
    pairs: dict[tuple[str, int], dict[str, Interaction]] = defaultdict(dict)
    for i in chat:
        m = re.match(r"(.*)__(sync|async|stream|async_stream)\.yaml$", i.source.name)
        if m and i.status == 200 and not i.hand_edited:
            pairs[(m.group(1), i.index)][m.group(2)] = i
    compared = 0
    for modes in pairs.values():
        for plain, streamed in (("sync", "stream"), ("async", "async_stream")):
            if plain not in modes or streamed not in modes:
                continue
            a, b = modes[plain], modes[streamed]
            if raw_generation(a) != raw_generation(b):
                continue  # the model generated something else the second time: nothing to compare
            x = decode_response(json.loads(a.response_body))
            y, _, _ = fold_stream(sse_data(b.response_body))
            assert (x.text, x.finish_reason) == (y.text, y.finish_reason), a.name
            assert [(c.name, c.arguments) for c in x.tool_calls] == [(c.name, c.arguments) for c in y.tool_calls]
            # Output token counts differ between two generations (reasoning tokens vary); the prompt does not.
            if x.usage and y.usage:
                assert x.usage.input_tokens == y.usage.input_tokens, a.name
            compared += 1
    print(f"\nrecorded sync/stream pairs folded to equal results: {compared}")
    assert compared >= 40


# ---------------------------------------------------------------- request bodies


@dataclass
class Difference:
    """A documented, justified difference between what a real client sent and what we send.

    Bodies are compared as parsed JSON: key order is irrelevant, and numbers compare by value (``0 == 0.0``).
    """

    name: str
    why: str
    apply: Callable[[dict[str, Any], dict[str, Any]], bool]  # (expected body, context) -> applied?


def _pop_if(body: dict[str, Any], key: str, condition: bool) -> bool:
    if condition and key in body:
        del body[key]
        return True
    return False


def _new_api(ctx: dict[str, Any]) -> bool:
    v = ctx["api_version"]
    return v == "v1" or v[:10] >= MAX_COMPLETION_TOKENS_SINCE


def _rename_max_tokens(body: dict[str, Any], ctx: dict[str, Any]) -> bool:
    if "max_tokens" in body and (_new_api(ctx) or ctx["profile"].reasoning):
        body["max_completion_tokens"] = body.pop("max_tokens")
        return True
    return False


def _assistant_echo(body: dict[str, Any], _: dict[str, Any]) -> bool:
    applied = False
    for m in body["messages"]:
        if m["role"] == "assistant" and "content" not in m:
            m["content"] = None
            applied = True
        applied = _pop_if(m, "annotations", m["role"] == "assistant") or applied
    return applied


def _add_stream_options(body: dict[str, Any], _: dict[str, Any]) -> bool:
    if body.get("stream") is True and "stream_options" not in body:
        body["stream_options"] = {"include_usage": True}
        return True
    return False


DIFFERENCES = [
    Difference(
        "model on classic routes",
        "Azure routes by the path and ignores it (dd-trace sent gpt-3.5-turbo "
        "to deployment gpt-4.1-mini); we do not send it",
        lambda b, c: _pop_if(b, "model", not c["v1"]),
    ),
    Difference(
        "n: 1",
        "the default; ChatResult holds one choice, so we never ask for n",
        lambda b, _: _pop_if(b, "n", b.get("n") == 1),
    ),
    Difference(
        "stream: false",
        "the default; we send stream only when streaming",
        lambda b, _: _pop_if(b, "stream", b.get("stream") is False),
    ),
    Difference("stream_options added", "we always ask for usage on streams (DESIGN §5)", _add_stream_options),
    Difference(
        "max_tokens -> max_completion_tokens",
        "api-version >= 2024-08-01-preview or a reasoning profile "
        "(Azure answered the recorded gpt-5-mini max_tokens with 400 unsupported_parameter)",
        _rename_max_tokens,
    ),
    Difference(
        "temperature/top_p on reasoning models",
        "reasoning models reject them; dropped with a warning",
        lambda b, c: any([_pop_if(b, k, c["profile"].reasoning) for k in ("temperature", "top_p")]),
    ),
    Difference(
        "assistant echo fields",
        "clients echo the response message: 'annotations' is an output field, and a missing content is sent as null",
        _assistant_echo,
    ),
]


def test_chat_conformance_recorded_request_bodies_reencode_equal(chat: list[Interaction]) -> None:
    applied = Counter[str]()
    skipped = Counter[str]()
    compared = 0
    for i in chat:
        body = i.request_json
        try:
            encoded = reencode_recorded(i.path, i.query, body)
        except NotExpressible as exc:
            skipped[str(exc)] += 1
            continue
        expected = copy.deepcopy(body)
        ctx = {
            "v1": i.path.startswith("/openai/v1/"),
            "api_version": recorded_api_version(i.path, i.query),
            "profile": profile_for(body.get("model") or i.path.split("/")[3]),
        }
        for diff in DIFFERENCES:
            if diff.apply(expected, ctx):
                applied[diff.name] += 1
        assert dict(encoded.body) == expected, i.name
        if ctx["profile"].reasoning and ({"temperature", "top_p"} & set(body)):
            assert encoded.warnings, i.name
        compared += 1
    print(f"\nrecorded chat request bodies re-encoded and compared: {compared}; not expressible: {dict(skipped)}")
    for diff in DIFFERENCES:
        print(f"  {applied[diff.name]:4d}  {diff.name}: {diff.why}")
    assert compared >= 400
    assert sum(skipped.values()) <= 2
    assert all(applied[diff.name] for diff in DIFFERENCES), "a documented difference no longer occurs: drop it"
