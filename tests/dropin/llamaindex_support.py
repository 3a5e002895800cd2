"""The differential harness: llama-index's ``AzureOpenAI`` / ``AzureOpenAIResponses`` (the anchors) against
``AzureGatewayLLM``, built with the same arguments, driven the same way, compared on the wire and on the results.

A difference is an id such as ``body.stream:omitted`` or ``result.raw:type``. Every id the comparison finds
must be a row of the README table "Differences from llama-index AzureOpenAI" (:func:`documented_differences`);
an id not in it fails the suite, and each row names the test that pins it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse, ThinkingBlock, ToolCallBlock
from llama_index.llms.azure_openai import AzureOpenAI, AzureOpenAIResponses

from azure_openai_emulator import AzureEmulator, RecordedRequest
from llamaindex_azure_gateway import AzureGatewayLLM

API_KEY = "test-key"
DEPLOYMENT = "gpt-4o-mini"
CHAT_API_VERSION = "2024-10-21"
RESPONSES_API_VERSION = "2025-03-01-preview"
README = Path(__file__).resolve().parents[2] / "README.md"
TABLE_TITLE = "## Differences from llama-index AzureOpenAI"

# What the HTTP client adds on its own: not part of what the caller asked Azure for.
TRANSPORT_HEADERS = frozenset({"host", "accept-encoding", "connection", "content-length", "user-agent"})
TRANSPORT_HEADER_PREFIXES = ("x-stainless-",)


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the two requests or results differ: an id for the table, and the values seen."""

    id: str
    detail: str = ""


@dataclass
class Tally:
    """Counts for the closing note: what was compared."""

    fields: int = 0
    requests: int = 0
    responses: int = 0
    seen: set[str] = field(default_factory=set[str])


TALLY = Tally()
_FOUND: dict[tuple[str, ...], list[Difference]] = {}


def memo(key: tuple[str, ...], run: Callable[[], list[Difference]]) -> list[Difference]:
    """The differences of one differential run, computed once per session (the pins reuse the matrix's runs)."""
    if key not in _FOUND:
        _FOUND[key] = run()
    return _FOUND[key]


# -- building the pair -----------------------------------------------------------------------------------------


def build_pair(
    endpoint: str, *, responses: bool = False, **kwargs: Any
) -> tuple[AzureOpenAI | AzureOpenAIResponses, AzureGatewayLLM]:
    """The anchor and ours, with the same arguments (the Responses anchor vs ours with ``use_responses_api``)."""
    common: dict[str, Any] = {
        "engine": DEPLOYMENT,
        "azure_endpoint": endpoint,
        "api_key": API_KEY,
        "api_version": RESPONSES_API_VERSION if responses else CHAT_API_VERSION,
        "max_retries": 0,
    }
    common.update(kwargs)
    if responses:
        return AzureOpenAIResponses(**common), AzureGatewayLLM(use_responses_api=True, **common)
    return AzureOpenAI(**common), AzureGatewayLLM(**common)


def capture(emulator: AzureEmulator, action: Callable[[], object]) -> tuple[object, list[RecordedRequest]]:
    """Run ``action`` against a freshly reset emulator: its result and the requests it made."""
    emulator.reset()
    result = action()
    return result, list(emulator.requests)


# -- the wire --------------------------------------------------------------------------------------------------


def _semantic_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v for k, v in headers.items() if k not in TRANSPORT_HEADERS and not k.startswith(TRANSPORT_HEADER_PREFIXES)
    }


def request_differences(anchor: RecordedRequest, ours: RecordedRequest) -> list[Difference]:
    """Route, query, headers (aside from transport and user-agent) and JSON body, compared key by key."""
    TALLY.requests += 1
    out: list[Difference] = []
    if anchor.path != ours.path:
        out.append(Difference("route", f"{anchor.path} vs {ours.path}"))
    for key in sorted(set(anchor.query) | set(ours.query)):
        if anchor.query.get(key) != ours.query.get(key):
            out.append(Difference(f"query.{key}", f"{anchor.query.get(key)!r} vs {ours.query.get(key)!r}"))
    a_headers, o_headers = _semantic_headers(anchor.headers), _semantic_headers(ours.headers)
    for key in sorted(set(a_headers) | set(o_headers)):
        if a_headers.get(key) != o_headers.get(key):
            out.append(Difference(f"header.{key}", f"{a_headers.get(key)!r} vs {o_headers.get(key)!r}"))
    out.extend(body_differences(canonical_ids(anchor.json), canonical_ids(ours.json)))
    return out


_RANDOM_ID = re.compile(r"^(?:call_|fc_|resp_|msg_|rs_|chatcmpl-)[A-Za-z0-9_-]{6,}$")


def canonical_ids(value: Any, seen: dict[str, str] | None = None) -> Any:
    """``value`` with the server's random ids (``call_…``, ``resp_…``) numbered in order of appearance."""
    seen = {} if seen is None else seen
    if isinstance(value, str):
        return seen.setdefault(value, f"<id{len(seen)}>") if _RANDOM_ID.match(value) else value
    if isinstance(value, list):
        return [canonical_ids(v, seen) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, tuple):
        return tuple(canonical_ids(v, seen) for v in value)  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {k: canonical_ids(v, seen) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


def body_differences(anchor: Mapping[str, Any], ours: Mapping[str, Any]) -> list[Difference]:
    """Top-level body fields: left out, added, or different (nulls the anchor sends count as one id)."""
    out: list[Difference] = []
    for key in sorted(set(anchor) | set(ours)):
        if key not in ours:
            kind = "null-omitted" if anchor[key] is None else f"{key}:omitted"
            out.append(Difference(f"body.{kind}", f"{key}={json.dumps(anchor[key])[:200]}"))
        elif key not in anchor:
            out.append(Difference(f"body.{key}:added", json.dumps(ours[key])[:200]))
        elif anchor[key] != ours[key]:
            out.append(Difference(f"body.{key}:differs", _value_difference(anchor[key], ours[key])))
    return out


def _value_difference(a: Any, o: Any) -> str:
    return f"{json.dumps(a, sort_keys=True)[:300]} vs {json.dumps(o, sort_keys=True)[:300]}"


# -- the results -----------------------------------------------------------------------------------------------


def _arguments(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _legacy_calls(additional_kwargs: Mapping[str, Any]) -> list[tuple[object, object, object]]:
    calls = additional_kwargs.get("tool_calls") or []
    return [(c.id, c.function.name, _arguments(c.function.arguments)) for c in calls]


def _token_counts(additional_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    counts = {k: additional_kwargs[k] for k in keys if k in additional_kwargs}
    usage = additional_kwargs.get("usage")
    if not counts and usage is not None:  # the Responses anchor keeps the SDK's usage object instead
        counts = {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        }
    return counts


def chat_view(response: ChatResponse) -> dict[str, Any]:
    """What a caller reads from a ``ChatResponse``, in comparable form."""
    blocks = response.message.blocks
    return {
        "role": str(response.message.role.value),
        "text": response.message.content or "",
        "thinking": [b.content for b in blocks if isinstance(b, ThinkingBlock)],
        "tool_calls": [
            (b.tool_call_id, b.tool_name, _arguments(b.tool_kwargs)) for b in blocks if isinstance(b, ToolCallBlock)
        ],
        "message.additional_kwargs.tool_calls": _legacy_calls(response.message.additional_kwargs),
        "token_counts": _token_counts(response.additional_kwargs),
        "logprobs": response.logprobs,
    }


def completion_view(response: CompletionResponse) -> dict[str, Any]:
    """What a caller reads from a ``CompletionResponse``."""
    return {
        "text": response.text,
        "token_counts": _token_counts(response.additional_kwargs),
        "logprobs": response.logprobs,
    }


def view_of(response: object) -> dict[str, Any]:
    """The comparable view of a chat or completion response (random ids numbered)."""
    if isinstance(response, ChatResponse):
        return canonical_ids(chat_view(response))
    assert isinstance(response, CompletionResponse), type(response)
    return completion_view(response)


def result_differences(anchor: object, ours: object, *, where: str = "result") -> list[Difference]:
    """Compare two results (a response, a stream's chunks, or a structured object) field by field."""
    TALLY.responses += 1
    if isinstance(anchor, list) and isinstance(ours, list):
        return stream_differences(anchor, ours, where=where)  # pyright: ignore[reportUnknownArgumentType]
    if not isinstance(anchor, ChatResponse | CompletionResponse):
        return [] if anchor == ours else [Difference(f"{where}.value", f"{anchor!r} vs {ours!r}")]
    out = [
        Difference(f"{where}.{key}", f"{value!r} vs {view_of(ours)[key]!r}")
        for key, value in view_of(anchor).items()
        if value != view_of(ours)[key]
    ]
    a_keys, o_keys = set(anchor.additional_kwargs), set(ours.additional_kwargs)  # pyright: ignore[reportAttributeAccessIssue]
    out += [Difference(f"{where}.additional_kwargs.{k}:missing") for k in sorted(a_keys - o_keys)]
    out += [Difference(f"{where}.additional_kwargs.{k}:added") for k in sorted(o_keys - a_keys)]
    if anchor.raw is not None and not isinstance(ours.raw, type(anchor.raw)):  # pyright: ignore[reportAttributeAccessIssue]
        out.append(Difference(f"{where}.raw:type", f"{type(anchor.raw).__name__} vs {type(ours.raw).__name__}"))  # pyright: ignore[reportAttributeAccessIssue]
    return out


def stream_differences(anchor: Sequence[Any], ours: Sequence[Any], *, where: str) -> list[Difference]:
    """A stream: the concatenated deltas, chunks without content, and the last chunk's fields."""
    out: list[Difference] = []
    if not anchor or not ours:
        return [Difference(f"{where}.stream:empty", f"{len(anchor)} vs {len(ours)} chunks")]
    if not isinstance(anchor[-1], ChatResponse | CompletionResponse):  # structured objects
        return [] if anchor[-1] == ours[-1] else [Difference(f"{where}.stream.last", f"{anchor[-1]!r} vs {ours[-1]!r}")]
    a_text, o_text = "".join(c.delta or "" for c in anchor), "".join(c.delta or "" for c in ours)
    if a_text != o_text:
        out.append(Difference(f"{where}.stream.deltas", f"{a_text!r} vs {o_text!r}"))
    if any(not c.delta for c in anchor) != any(not c.delta for c in ours):
        out.append(Difference(f"{where}.stream.empty-chunks", f"{len(anchor)} vs {len(ours)} chunks"))
    final = _final_content_chunk(anchor)
    for diff in result_differences(final, _final_content_chunk(ours), where=f"{where}.stream.final"):
        out.append(diff)
    return out


def _final_content_chunk(chunks: Sequence[Any]) -> Any:
    """The last chunk that carries the whole answer (the anchors' trailing usage-only chunks aside)."""
    for chunk in reversed(chunks):
        if isinstance(chunk, CompletionResponse) or chunk.message.blocks:
            return chunk
    return chunks[-1]


# -- the table -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentedDifference:
    """One README row: the difference id, what the anchor does, what we do and why, the pinning test."""

    id: str
    anchor: str
    ours: str
    test: str
    row: tuple[str, ...] = ()


def documented_differences(readme: Path = README) -> dict[str, DocumentedDifference]:
    """The rows of the README table, by id (the first cell, in backticks)."""
    text = readme.read_text(encoding="utf-8")
    start = text.index(TABLE_TITLE) + len(TABLE_TITLE)
    section = text[start:].split("\n## ", 1)[0]
    rows: dict[str, DocumentedDifference] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        idents = tuple(re.findall(r"`([^`]+)`", cells[0]))
        for ident in idents:
            rows[ident] = DocumentedDifference(ident, cells[1], cells[2], cells[3].strip("`"), idents)
    return rows


def undocumented(differences: Iterable[Difference]) -> list[Difference]:
    """The differences the README table does not list (the suite fails on any).

    A tagged id (``model-unset:body.stream:omitted``) is documented by its own row or by the untagged id's.
    """
    table = documented_differences()
    found = list(differences)
    TALLY.seen.update(d.id for d in found)
    return [d for d in found if d.id not in table and d.id.partition(":")[2] not in table]
