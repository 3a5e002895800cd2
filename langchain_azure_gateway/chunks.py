"""Core stream events to LangChain ``ChatGenerationChunk`` s, one chunk per delta.

Identity, usage and filter verdicts arrive spread over the stream; LangChain concatenates string metadata when
it adds chunks, so they are folded here and sent once, on the closing ``chunk_position="last"`` chunk, which
carries the same ``response_metadata`` and ``usage_metadata`` an ``invoke`` of the same exchange gives.

Tool calls: LangChain concatenates every string of the chunks it merges, so a tool's name and id go out once
per call index, however often a gateway repeats them. And it parses the merged arguments with
``parse_partial_json``, which closes a truncated object (``{"amount": 100`` becomes ``{"amount": 100}``): a call
the core found invalid when the stream ended would run. The closing chunk then appends the characters that make
the merged text unparseable (an invalid tool call in LangChain's fold) and keeps the exact text received in
``response_metadata["invalid_tool_call_arguments"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.base import TextAccessor
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.utils.json import parse_partial_json

from langchain_azure_gateway.content_blocks import choice_summaries, citation, hosted_blocks
from langchain_azure_gateway.convert import from_core_usage
from langchain_azure_gateway.metadata import MetadataOptions, anchor_metadata
from shared_core import ChatResult, StreamEvent, TextDelta
from shared_core.integration import (
    AnnotationEvent,
    AudioDelta,
    ChoiceEvent,
    ContentFilterDelta,
    FinishEvent,
    HostedToolEvent,
    PromptFilterEvent,
    ReasoningDelta,
    ReasoningItemEvent,
    RefusalDelta,
    ResponseMetadata,
    ToolCallDelta,
    UsageEvent,
    direct_model,
    same_model_state,
)

__all__ = ["StreamChunker"]


class StreamChunker:
    """Turns one stream's events into chunks; the closing chunk is built by :meth:`final` from :meth:`result`.

    The folded result is the gateway's own (its closing event carries it, priced): nothing is folded twice.
    """

    __slots__ = (
        "_blocks",
        "_open",
        "_options",
        "_response_id",
        "_result",
        "_sent_arguments",
        "_sent_ids",
        "_sent_names",
        "_texts",
        "_usage",
    )

    def __init__(self, options: MetadataOptions | None = None, *, usage: bool = True) -> None:
        """Args: options: how the model shapes metadata; usage: put ``usage_metadata`` on the closing chunk."""
        self._options = options or MetadataOptions()
        self._usage = usage
        self._result: ChatResult | None = None
        self._texts: list[str] = []  # the answer's text so far, for the text a citation quotes
        self._response_id: str | None = None
        self._sent_arguments: dict[int, str] = {}
        self._sent_names: set[int] = set()
        self._sent_ids: dict[int, str] = {}
        # Once reasoning text, a hosted tool item or a citation arrives, content goes out as v1 blocks that
        # LangChain merges by "index": the next free index (None before), and the open text/reasoning block's.
        self._blocks: int | None = None
        self._open: dict[str, int] = {}

    def feed(self, event: StreamEvent) -> ChatGenerationChunk | None:
        """Take one event; return the chunk to yield for it, if it carries content."""
        if type(event) is TextDelta and self._blocks is None:  # the hot path: one plain text chunk per delta
            self._texts.append(event.text)
            return _text_chunk(event.text, self._response_id)
        match event:
            case ContentFilterDelta() | PromptFilterEvent() | UsageEvent() | FinishEvent() | ChoiceEvent():
                return None  # in the closing chunk (from the folded result), as the other choices are
            case TextDelta(text=text):
                self._texts.append(text)
                if self._blocks is not None:
                    return self._chunk(AIMessageChunk(content=[{"type": "text", "text": text, **self._index("text")}]))
                return self._chunk(AIMessageChunk(content=text, id=self._response_id))
            case HostedToolEvent(part=part):
                blocks: list[str | dict[str, Any]] = [{**b, "index": self._next_index()} for b in hosted_blocks(part)]
                self._open.clear()
                return self._chunk(AIMessageChunk(content=blocks))
            case AnnotationEvent(annotation=annotation):
                cite = citation(annotation, "".join(self._texts))
                block = {"type": "text", "text": "", "annotations": [cite], **self._index("text")}
                return self._chunk(AIMessageChunk(content=[block]))
            case AudioDelta():
                return self._chunk(AIMessageChunk(content="", additional_kwargs={"audio": _audio_piece(event)}))
            case ToolCallDelta():
                return self._tool_chunk(event)
            case ReasoningDelta(text=text):
                return self._reasoning_chunk(text)
            case RefusalDelta(text=text):
                return self._chunk(AIMessageChunk(content="", additional_kwargs={"refusal": text}))
            case ReasoningItemEvent(part=part):
                item = {"id": part.id, "text": part.text, "encrypted_content": part.encrypted_content}
                return self._chunk(AIMessageChunk(content="", additional_kwargs={"reasoning_items": [item]}))
            case ResponseMetadata(response_id=response_id, result=result):
                self._response_id = self._response_id or response_id
                if result is not None:
                    self._result = result  # the stream's last event: the gateway's fold, priced
                return None
            case _:
                assert_never(event)

    def _reasoning_chunk(self, text: str) -> ChatGenerationChunk:
        if self._options.api != "chat":
            return self._chunk(AIMessageChunk(content="", additional_kwargs={"reasoning_content": text}))
        reasoning: list[str | dict[str, Any]] = [{"type": "reasoning", "reasoning": text, **self._index("reasoning")}]
        return self._chunk(AIMessageChunk(content=reasoning, additional_kwargs={"reasoning_content": text}))

    def _next_index(self) -> int:
        index = self._blocks or 0
        self._blocks = index + 1
        return index

    def _index(self, kind: str) -> dict[str, int]:
        """The index of the open ``kind`` block, opening one (and closing the other kind) when needed."""
        if kind not in self._open:
            self._open = {kind: self._next_index()}
        return {"index": self._open[kind]}

    def _chunk(self, message: AIMessageChunk) -> ChatGenerationChunk:
        if message.id is None and self._response_id:
            message.id = self._response_id
        return ChatGenerationChunk(message=message)

    def _tool_chunk(self, event: ToolCallDelta) -> ChatGenerationChunk | None:
        arguments = event.arguments
        sent = self._sent_arguments.get(event.index, "")
        if event.complete:
            # Responses sends the whole argument text again at the end; LangChain would append it twice.
            if not arguments.startswith(sent):
                return None
            arguments = arguments[len(sent) :]
            if not arguments and event.id is None and event.name is None:
                return None
        self._sent_arguments[event.index] = sent + arguments
        name = event.name if event.name and event.index not in self._sent_names else None
        call_id = event.id if event.id and event.index not in self._sent_ids else None
        if name:
            self._sent_names.add(event.index)
        if call_id:
            self._sent_ids[event.index] = call_id
        if not arguments and name is None and call_id is None:
            return None
        chunk = tool_call_chunk(name=name, args=arguments, id=call_id, index=event.index)
        return self._chunk(AIMessageChunk(content="", tool_call_chunks=[chunk]))

    def _unrunnable(self, result: ChatResult) -> tuple[list[Any], dict[str, str]]:
        """Chunks that make LangChain's fold see the calls the core found invalid as invalid, and their raw text."""
        chunks: list[Any] = []
        raw: dict[str, str] = {}
        by_id = {call_id: index for index, call_id in self._sent_ids.items()}
        for call in result.invalid_tool_calls:
            index = by_id.get(call.id)
            if index is None:
                continue
            sent = self._sent_arguments.get(index, "")
            raw[call.id] = call.raw_arguments
            if sent and _langchain_would_run(sent):
                chunks.append(tool_call_chunk(name=None, args=_unparseable_suffix(sent), id=None, index=index))
        return chunks, raw

    def result(self) -> ChatResult:
        """The whole stream folded and priced, from the gateway's closing event.

        Raises:
            RuntimeError: The events did not end with the gateway's closing event (not a ``Gateway`` stream).
        """
        if self._result is None:
            raise RuntimeError("the stream's events ended without the gateway's closing event (its folded result)")
        return self._result

    def final(self, result: ChatResult) -> ChatGenerationChunk:
        """The closing chunk: usage, response metadata (conversation repairs included) and
        ``chunk_position="last"``.

        Args:
            result: The folded stream (:meth:`result`), with its cost when known.
        """
        meta = anchor_metadata(result, self._options, stream=True)
        closing, raw = self._unrunnable(result)
        if raw:
            meta["invalid_tool_call_arguments"] = raw
        message = AIMessageChunk(
            content="",
            tool_call_chunks=closing,
            id=result.response_id,
            usage_metadata=from_core_usage(result.usage) if result.usage and self._usage else None,
            response_metadata=meta,
            chunk_position="last",
        )
        if result.choices:
            message.response_metadata["choices"] = choice_summaries(result)
        if self._blocks is not None:
            message.response_metadata["output_version"] = "v1"  # the chunks' content is v1 blocks
        return ChatGenerationChunk(message=message, generation_info={"finish_reason": result.finish_reason})


_new_str = str.__new__


def _built_text_chunk(text: str, message_id: str | None) -> ChatGenerationChunk:
    """``ChatGenerationChunk(message=AIMessageChunk(content=text, id=message_id))`` without pydantic's validation.

    The hot path of every stream: a plain text delta, whose validated form is known. The same ``__dict__``,
    fields set and extras as the validated objects (checked against them at import: :func:`_text_chunk`).
    """
    message = direct_model(
        AIMessageChunk,
        {
            "content": text, "additional_kwargs": {}, "response_metadata": {}, "type": "AIMessageChunk", "name": None,
            "id": message_id, "tool_calls": [], "invalid_tool_calls": [], "usage_metadata": None,
            "tool_call_chunks": [], "chunk_position": None,
        },
        {"content", "id"},
        extra={},
    )  # fmt: skip
    # What ChatGenerationChunk's validator sets: message.text, a TextAccessor of the message's str content.
    values = {"text": _new_str(TextAccessor, text), "generation_info": None, "type": "ChatGenerationChunk",
              "message": message}  # fmt: skip
    return direct_model(ChatGenerationChunk, values, {"text", "message"})


def _validated_text_chunk(text: str, message_id: str | None) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=text, id=message_id))


def _pick_text_chunk() -> Callable[[str, str | None], ChatGenerationChunk]:
    """The direct builder when it gives what validation gives (this langchain-core's fields), else validation."""
    for message_id in ("chatcmpl-1", None):
        built, validated = _built_text_chunk("x", message_id), _validated_text_chunk("x", message_id)
        if not (same_model_state(built, validated) and same_model_state(built.message, validated.message)):
            return _validated_text_chunk
    return _built_text_chunk


_text_chunk = _pick_text_chunk()


def _langchain_would_run(text: str) -> bool:
    try:
        return isinstance(parse_partial_json(text), dict)
    except ValueError:  # json.JSONDecodeError: LangChain's fold makes that an invalid call itself
        return False


def _unparseable_suffix(text: str) -> str:
    """What to append to ``text`` so that ``parse_partial_json`` gives up (a closer that matches nothing).

    Mirrors its scan: an open string is closed first (after completing a dangling escape), then the closer that
    does not match the innermost open bracket (or any, when none is open) makes it return ``None``.
    """
    stack: list[str] = []
    inside = escaped = False
    for char in text:
        if inside:
            if char == '"' and not escaped:
                inside = False
            escaped = char == "\\" and not escaped
        elif char == '"':
            inside, escaped = True, False
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack and stack[-1] == char:
            stack.pop()
    suffix = ('\\"' if escaped else '"') if inside else ""
    return suffix + ("]" if stack and stack[-1] == "}" else "}")


def _audio_piece(event: AudioDelta) -> dict[str, Any]:
    # LangChain joins string values of chunks and rejects a changed int: send each field once (data pieces joined).
    piece: dict[str, Any] = {}
    if event.id:
        piece["id"] = event.id
    if event.data:
        piece["data"] = event.data
    if event.transcript:
        piece["transcript"] = event.transcript
    if event.expires_at is not None:
        piece["expires_at"] = event.expires_at
    return piece
