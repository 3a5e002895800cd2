"""Tools Azure runs itself (Responses API): their tool definitions, their output items, and citations.

- A :class:`~shared_core.request.HostedToolSpec` is sent as given (``{"type": "web_search_preview"}`` ...).
  Chat Completions has no hosted tools: :func:`refuse_hosted_on_chat` raises before anything is sent.
- Output items of the hosted types (:data:`HOSTED_ITEM_TYPES`: ``web_search_call``, ``file_search_call`` with
  its ``results``, ``code_interpreter_call`` with its ``outputs``, ``image_generation_call`` with its base64
  ``result``, ``mcp_call``, ``mcp_list_tools``, ``mcp_approval_request``, ``computer_call``,
  ``local_shell_call``) become :class:`~shared_core.messages.HostedToolPart` s holding the item verbatim, in a
  response body and, from ``response.output_item.done``, in a stream. Sent back in the next turn, a part is the
  same item again (an ``mcp_approval_response`` in a user turn answers an approval request).
- Annotations on ``output_text`` parts (``url_citation``, ``file_citation`` ...) go on the text part; the texts
  of several parts are joined, so each annotation's ``start_index`` / ``end_index`` is shifted by the length of
  the text before its part (a stream does the same with ``response.output_text.annotation.added``).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared_core.errors import UnsupportedParameterError
from shared_core.messages import HostedToolPart, JsonValue
from shared_core.request import ChatRequest, HostedToolSpec

__all__ = [
    "HOSTED_ITEM_TYPES",
    "USER_HOSTED_ITEM_TYPES",
    "decode_hosted_item",
    "encode_hosted_tool",
    "refuse_hosted_on_chat",
    "replay_item",
    "shift_annotation",
]

JsonObject = dict[str, JsonValue]

HOSTED_ITEM_TYPES = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "computer_call",
        "local_shell_call",
    }
)
"""Responses output item types that record a tool Azure ran (or asks approval to run)."""

USER_HOSTED_ITEM_TYPES = frozenset({"mcp_approval_response", "computer_call_output", "local_shell_call_output"})
"""Input item types a user turn sends in answer to a hosted item."""


def encode_hosted_tool(tool: HostedToolSpec) -> JsonObject:
    """The tool definition as the Responses API takes it (a copy of the user's dict)."""
    return dict(tool.config)


# Output fields an input item of that type does not take (Azure answers them, the input schema has no place).
_OUTPUT_ONLY: dict[str, frozenset[str]] = {
    "image_generation_call": frozenset({"background", "output_format", "quality", "revised_prompt", "size"}),
}


def replay_item(part: HostedToolPart) -> JsonObject:
    """The item to send back in a next turn: as Azure sent it, less the fields only an output item has."""
    dropped = _OUTPUT_ONLY.get(part.item_type, frozenset())
    return {k: v for k, v in part.item.items() if k not in dropped}


def refuse_hosted_on_chat(request: ChatRequest, deployment: str) -> None:
    """Chat Completions cannot carry a hosted tool: raise before sending, naming the tool and the fix.

    Raises:
        UnsupportedParameterError: A tool of the request is a :class:`HostedToolSpec`.
    """
    for tool in request.tools:
        if isinstance(tool, HostedToolSpec):
            raise UnsupportedParameterError(
                f"tool {tool.type!r} runs on Azure's side and only the Responses API carries it; deployment "
                f"{deployment!r} was asked through Chat Completions. Fix: use the Responses API (LangChain "
                "use_responses_api=True, LlamaIndex use_responses_api=True, core Gateway(api='responses')), or "
                "drop the tool",
                parameter="tools",
                deployment=deployment,
            )


def decode_hosted_item(item: JsonValue) -> HostedToolPart | None:
    """A hosted output item as a part, or ``None`` when the item is of another type."""
    kind = item.get("type") if isinstance(item, dict) else None
    if isinstance(item, dict) and isinstance(kind, str) and kind in HOSTED_ITEM_TYPES:
        return HostedToolPart(item)
    return None


def shift_annotation(annotation: JsonValue, offset: int) -> Mapping[str, JsonValue] | None:
    """``annotation`` with ``start_index`` / ``end_index`` moved ``offset`` characters on (``None`` if not an
    object). File annotations carry an ``index`` into the text, moved likewise."""
    if not isinstance(annotation, dict):
        return None
    if offset == 0:
        return annotation
    out: JsonObject = dict(annotation)
    for key in ("start_index", "end_index", "index"):
        value = out.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = value + offset
    return out
