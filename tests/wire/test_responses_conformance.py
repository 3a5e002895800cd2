"""The Responses codec against every recorded Responses interaction with real Azure.

Expected values are derived here by walking the raw JSON (and a minimal SSE splitter written for this test),
not by the codec. Counts are printed (``pytest -s``) and pinned with lower bounds, so a recordings folder that
silently lost files fails instead of passing vacuously.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from shared_core.content_filter import completion_filter_error
from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.errors import ContentFilterError
from shared_core.result import ChatResult, StreamAccumulator
from shared_core.wire.responses import ResponsesStreamDecoder, decode_error, decode_response, encode_request
from tests.support.recordings import Interaction, azure_interactions
from tests.support.responses_bodies import Inexpressible, parse_request_body

# Differences between what the real client sent and what we encode, by field path. Every difference found
# must be listed here with its reason; an undocumented one fails the test.
DOCUMENTED_DIFFERENCES: dict[str, str] = {
    # (none found: every expressible recorded body re-encodes field for field)
}

# Finish reasons as Chat Completions would name them (see responses_decode's module docstring).
_EXPECTED_FINISH = {
    ("completed", None, False): "stop",
    ("completed", None, True): "tool_calls",
    ("incomplete", "max_output_tokens", False): "length",
    ("incomplete", "content_filter", False): "content_filter",
}


@pytest.fixture(scope="module")
def responses() -> list[Interaction]:
    return [i for i in azure_interactions() if i.api_shape == "responses"]


def split_sse(body: bytes) -> Iterator[tuple[str | None, str]]:
    """Minimal SSE framing: records end at a blank line; ``event:`` names, ``data:`` lines join with \\n."""
    event: str | None = None
    data: list[str] = []
    for line in [*body.decode("utf-8").splitlines(), ""]:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


def fold_stream(body: bytes) -> tuple[ChatResult, bool]:
    decoder, accumulator = ResponsesStreamDecoder(), StreamAccumulator()
    for event, data in split_sse(body):
        for item in decoder.decode(event, data):
            accumulator.add(item)
    return accumulator.result(), decoder.done


def expected_from_response(response: dict[str, Any]) -> dict[str, Any]:
    """What a decoded result must hold, read straight from a response object."""
    output = response["output"]
    texts = [p["text"] for it in output if it["type"] == "message" for p in it["content"] if p["type"] == "output_text"]
    calls = [(it["call_id"], it["name"], json.loads(it["arguments"])) for it in output if it["type"] == "function_call"]
    reasoning = [(it["id"], it.get("encrypted_content")) for it in output if it["type"] == "reasoning"]
    usage = response["usage"]
    reason = (response.get("incomplete_details") or {}).get("reason")
    return {
        "text": "".join(texts),
        "calls": calls,
        "reasoning": reasoning,
        "usage": (
            usage["input_tokens"],
            usage["output_tokens"],
            usage["total_tokens"],
            usage["input_tokens_details"]["cached_tokens"],
            usage["output_tokens_details"]["reasoning_tokens"],
        ),
        "finish": _EXPECTED_FINISH[(response["status"], reason, bool(calls))],
        "id": response["id"],
        "model": response["model"],
    }


def observed(result: ChatResult) -> dict[str, Any]:
    usage = result.usage
    assert usage is not None
    return {
        "text": result.text,
        "calls": [(c.id, c.name, c.arguments) for c in result.tool_calls],
        "reasoning": [(p.id, p.encrypted_content) for p in result.message.parts if p.kind == "reasoning"],
        "usage": (
            usage.input_tokens,
            usage.output_tokens,
            usage.total_tokens,
            usage.cached_input_tokens,
            usage.reasoning_tokens,
        ),
        "finish": result.finish_reason,
        "id": result.response_id,
        "model": result.model,
    }


def test_conformance_json_bodies_decode_to_raw_values(responses: list[Interaction]) -> None:
    bodies = [i for i in responses if i.status == 200 and not i.is_stream]
    finishes: Counter[str] = Counter()
    for interaction in bodies:
        raw = json.loads(interaction.response_body)
        result = decode_response(raw)
        expected = expected_from_response(raw)
        assert observed(result) == expected, interaction.name
        assert result.invalid_tool_calls == (), interaction.name
        finishes[expected["finish"]] += 1
    print(f"\nResponses JSON bodies decoded: {len(bodies)}; finish reasons {dict(finishes)}")
    assert len(bodies) >= 43
    assert finishes["tool_calls"] > 0 and finishes["length"] > 0


def test_conformance_streams_decode_to_raw_values(responses: list[Interaction]) -> None:
    streams = [i for i in responses if i.status == 200 and i.is_stream]
    records = 0
    finishes: Counter[str] = Counter()
    for interaction in streams:
        events = [(name, json.loads(data)) for name, data in split_sse(interaction.response_body)]
        records += len(events)
        assert all(name == data["type"] for name, data in events), interaction.name
        terminal = events[-1][1]
        assert terminal["type"] in {"response.completed", "response.incomplete"}, interaction.name
        expected = expected_from_response(terminal["response"])
        # The deltas themselves, read independently: text and per-index argument fragments.
        deltas = "".join(d["delta"] for _, d in events if d["type"] == "response.output_text.delta")
        fragments: dict[int, str] = {}
        for _, d in events:
            if d["type"] == "response.function_call_arguments.delta":
                fragments[d["output_index"]] = fragments.get(d["output_index"], "") + d["delta"]
        assert deltas == expected["text"], interaction.name
        assert [json.loads(fragments[k]) for k in sorted(fragments)] == [c[2] for c in expected["calls"]]
        result, done = fold_stream(interaction.response_body)
        assert done, interaction.name
        assert observed(result) == expected, interaction.name
        # A real stream the filter ended (response.incomplete, reason content_filter) must raise, keeping text.
        error = completion_filter_error(result)
        assert (error is not None) == (expected["finish"] == "content_filter"), interaction.name
        assert error is None or error.partial_text == expected["text"]
        finishes[expected["finish"]] += 1
    print(f"\nResponses streams decoded: {len(streams)} ({records} SSE records); finish reasons {dict(finishes)}")
    assert len(streams) >= 34
    assert finishes["content_filter"] >= 2 and finishes["length"] > 0 and finishes["tool_calls"] > 0


def test_conformance_stream_folds_to_decode_of_its_final_response(responses: list[Interaction]) -> None:
    """Parity inside each recorded stream: the fold equals decode_response of the terminal response object."""
    streams = [i for i in responses if i.status == 200 and i.is_stream]
    for interaction in streams:
        terminal = json.loads(list(split_sse(interaction.response_body))[-1][1])
        result, _ = fold_stream(interaction.response_body)
        assert result == decode_response(terminal["response"]), interaction.name
    assert len(streams) >= 34


def test_conformance_errors_are_content_filter_exactly_when_coded(responses: list[Interaction]) -> None:
    errors = [i for i in azure_interactions() if i.status >= 400 and not i.hand_edited]
    own = [i for i in errors if i.api_shape == "responses"]
    filtered = 0
    for interaction in errors:
        payload = json.loads(interaction.response_body) if interaction.response_body.strip() else None
        is_filter = isinstance(payload, dict) and (payload.get("error") or {}).get("code") == "content_filter"
        error = decode_error(interaction.status, payload)
        assert isinstance(error, ContentFilterError) == is_filter, interaction.name
        if is_filter:
            assert error is not None and error.side == "prompt"
            filtered += 1
    print(f"\nerror bodies checked: {len(errors)} ({len(own)} Responses); content filter: {filtered}")
    assert len(own) >= 2 and all(
        isinstance(decode_error(i.status, json.loads(i.response_body)), ContentFilterError) for i in own
    )


def _api_version(interaction: Interaction) -> str:
    return "v1" if interaction.path.startswith("/openai/v1/") else interaction.query["api-version"]


def _diff(ours: Any, theirs: Any, path: str) -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [
            d
            for k in sorted(set(ours) | set(theirs), key=str)
            for d in _diff(ours.get(k), theirs.get(k), f"{path}.{k}")
        ]
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [d for n, (a, b) in enumerate(zip(ours, theirs, strict=True)) for d in _diff(a, b, f"{path}[]")]
    return [] if ours == theirs else [path]


def test_conformance_recorded_requests_reencode_field_for_field(responses: list[Interaction]) -> None:
    compared, skipped = 0, Counter[str]()
    undocumented: list[str] = []
    for interaction in responses:
        body = interaction.request_json
        try:
            parsed = parse_request_body(body)
        except Inexpressible as exc:
            skipped[str(exc)] += 1
            continue
        model = body["model"]
        target = ResolvedDeployment(model, model, model, "pass-through", profile_for(model))
        encoded = encode_request(parsed.request, target, api_version=_api_version(interaction), stream=parsed.stream)
        assert encoded.path == interaction.path, interaction.name
        assert dict(encoded.query) == interaction.query, interaction.name
        assert encoded.warnings == (), interaction.name
        differences = _diff(dict(encoded.body), body, "body")
        undocumented += [f"{interaction.name}: {d}" for d in differences if d not in DOCUMENTED_DIFFERENCES]
        compared += 1
    print(f"\nre-encoded and compared: {compared} of {len(responses)}; not expressible: {dict(skipped)}")
    assert undocumented == []
    assert compared >= 60


# --- stream / non-stream parity ----------------------------------------------------------------------

_PAIR_SUFFIXES = (("__sync.yaml", "__stream.yaml"), ("__async.yaml", "__async_stream.yaml"))


def _pairs(responses: list[Interaction]) -> list[tuple[Interaction, Interaction]]:
    """Recorded (call, stream) pairs of the same prompt: Mirascope's ``__sync``/``__stream`` cassettes."""
    by_key = {(i.source.name, i.index): i for i in responses if i.status == 200}
    pairs: list[tuple[Interaction, Interaction]] = []
    for (name, index), call in sorted(by_key.items()):
        for plain, streamed in _PAIR_SUFFIXES:
            if name.endswith(plain) and (partner := by_key.get((name[: -len(plain)] + streamed, index))):
                pairs.append((call, partner))
    return pairs


def _json_keys(text: str) -> list[str] | None:
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return None
    return sorted(parsed) if isinstance(parsed, dict) else None


def _shape(result: ChatResult) -> dict[str, Any]:
    """What two answers to the same prompt must share even when the model worded them differently."""
    return {
        "finish": result.finish_reason,
        "part_kinds": [p.kind for p in result.message.parts],
        "calls": [(c.name, c.arguments) for c in result.tool_calls],
        "has_text": bool(result.text),
        "usage_present": result.usage is not None,
        "detail_keys": sorted(result.provider_details),
    }


def test_parity_recorded_call_and_stream_pairs_fold_to_same_shape(responses: list[Interaction]) -> None:
    pairs = _pairs(responses)
    json_pairs = 0
    for call, stream in pairs:
        assert not call.is_stream and stream.is_stream
        plain = decode_response(json.loads(call.response_body))
        folded, _ = fold_stream(stream.response_body)
        assert _shape(plain) == _shape(folded), call.name
        keys = [_json_keys(plain.text), _json_keys(folded.text)]
        if None not in keys:
            assert keys[0] == keys[1], call.name
            json_pairs += 1
    # One recorded structured-output stream degenerated (whitespace, then the JSON twice over two message
    # items); that is the model's wording, so JSON keys are compared only where both answers are one object.
    print(f"\nrecorded call/stream pairs compared: {len(pairs)} ({json_pairs} also by JSON keys)")
    assert len(pairs) >= 32


def synthesize_stream(response: dict[str, Any]) -> bytes:
    """The SSE stream Azure would send for a response object, deltas cut into 3-character pieces."""
    records: list[dict[str, Any]] = []
    opening = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    records.append({"type": "response.created", "response": opening})
    records.append({"type": "response.in_progress", "response": opening})
    for index, item in enumerate(response["output"]):
        records.extend(_item_records(index, item))
    terminal = "response.completed" if response["status"] == "completed" else "response.incomplete"
    records.append({"type": terminal, "response": response})
    lines = [f"event: {r['type']}\ndata: {json.dumps({**r, 'sequence_number': n})}\n\n" for n, r in enumerate(records)]
    return "".join(lines).encode("utf-8")


def _pieces(text: str) -> list[str]:
    return [text[i : i + 3] for i in range(0, len(text), 3)]


def _item_records(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "function_call":
        opened = {**item, "arguments": "", "status": "in_progress"}
        deltas = [
            {"type": "response.function_call_arguments.delta", **base, "delta": p, "obfuscation": "zz"}
            for p in _pieces(item["arguments"])
        ]
        done = {"type": "response.function_call_arguments.done", **base, "arguments": item["arguments"]}
        return [
            {"type": "response.output_item.added", "output_index": index, "item": opened},
            *deltas,
            done,
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    records: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}}
    ]
    for content_index, part in enumerate(item.get("content", [])):
        kind = "response.output_text.delta" if part["type"] == "output_text" else "response.refusal.delta"
        text = part.get("text", part.get("refusal", ""))
        records += [{"type": kind, **base, "content_index": content_index, "delta": p} for p in _pieces(text)]
    records.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return records


def test_parity_synthetic_stream_of_each_recorded_body_folds_to_equal_result(responses: list[Interaction]) -> None:
    bodies = [i for i in responses if i.status == 200 and not i.is_stream]
    for interaction in bodies:
        raw = json.loads(interaction.response_body)
        folded, done = fold_stream(synthesize_stream(raw))
        assert done, interaction.name
        assert folded == decode_response(raw), interaction.name
    print(f"\nsynthetic streams folded and compared: {len(bodies)}")
    assert len(bodies) >= 43
