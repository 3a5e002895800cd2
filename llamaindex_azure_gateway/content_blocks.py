"""Content beyond text and function calls, between LlamaIndex blocks and the core's parts.

Into the core: a user's ``AudioBlock`` (bytes or a local path; ``format`` wav or mp3) is input audio; a
``DocumentBlock`` (bytes or a local path) is a file sent inline with its ``title`` as file name. An assistant
message sends back what :func:`from_core_extras` put on it: the items of tools Azure ran
(``additional_kwargs["built_in_tool_calls"]``, as llama-index's ``OpenAIResponses`` keeps them) and an audio
answer by its id (``additional_kwargs["audio"]``); its generated-image ``ImageBlock``, ``AudioBlock`` and
``CitationBlock`` s repeat what those carry and are not sent again.

Out of the core (:func:`from_core_extras`): hosted tool items go to ``built_in_tool_calls`` (dicts, in output
order) and an image generation's result also becomes an ``ImageBlock``; citations on the text become
``CitationBlock`` s after it (``source`` = URL or file id, ``title``, the cited text, and ``start_index`` /
``end_index`` in ``additional_location_info``) and the raw annotations ``additional_kwargs["annotations"]``; an
audio answer becomes an ``AudioBlock`` and ``additional_kwargs["audio"]`` (``id``, ``transcript``,
``expires_at``).

A ``ChatResponse`` holds one message, so ``n`` > 1 is refused before sending (:func:`refuse_many_choices`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, cast

from llama_index.core.base.llms.types import AudioBlock, CitationBlock, DocumentBlock, ImageBlock, TextBlock

from shared_core import AudioPart, FilePart, GenerationSettings, Message, TextPart, UnsupportedParameterError
from shared_core.integration import HostedToolPart, JsonValue, MessagePart

__all__ = [
    "ManyChoicesError",
    "assistant_extra_parts",
    "from_core_extras",
    "refuse_many_choices",
    "user_media_part",
    "with_built_in_tools",
]


class ManyChoicesError(UnsupportedParameterError):
    """``n`` > 1 was asked: a LlamaIndex ``ChatResponse`` carries one message, so the other answers would be lost.

    Attributes:
        n: The number of choices asked.
    """

    n: int = 0

    @classmethod
    def asked(cls, n: int) -> ManyChoicesError:
        """The error for a request asking ``n`` choices."""
        error = cls(
            f"n={n} asks Azure for {n} answers, but a LlamaIndex ChatResponse holds one message, so {n - 1} would "
            "be paid for and lost. Fix: drop n (or set n=1) and call chat() once per answer you need",
            parameter="n",
        )
        error.n = n
        return error


def with_built_in_tools(options: dict[str, Any], built_in_tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The call's options with the LLM's ``built_in_tools`` (``[{"type": "web_search_preview"}]``) first in
    ``tools`` (llama-index's ``OpenAIResponses`` sends them the same way)."""
    if not built_in_tools:
        return options
    return {**options, "tools": [*built_in_tools, *(options.get("tools") or [])]}


def refuse_many_choices(settings: GenerationSettings) -> None:
    """Raise :class:`ManyChoicesError` when the request asks ``n`` > 1 (the setting, or an extra body field)."""
    n = settings.n if settings.n is not None else settings.extra_body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        raise ManyChoicesError.asked(n)


# -- into the core --------------------------------------------------------------------------------------------


def user_media_part(block: object) -> MessagePart | None:
    """An ``AudioBlock`` or ``DocumentBlock`` as a core part (``None`` for other blocks).

    Raises:
        ValueError: A document or audio given only by a remote URL (it would have to be downloaded here).
    """
    if isinstance(block, AudioBlock):
        if block.audio is None and block.path is None:
            raise ValueError("given only by a url; Azure takes inline audio: pass audio bytes or a path")
        data = block.resolve_audio(as_base64=True).read().decode("ascii")
        return AudioPart(data=data, format=(block.format or "wav").lower())
    if isinstance(block, DocumentBlock):
        if block.data is None and block.path is None:
            raise ValueError("given only by a url; Azure takes inline files: pass data bytes or a path")
        encoded = base64.b64encode(block.resolve_document().read()).decode("ascii")
        mime = block.document_mimetype or "application/pdf"
        title = block.title if block.title and block.title != "input_document" else None
        return FilePart(data_url=f"data:{mime};base64,{encoded}", filename=title or f"document.{mime.split('/')[-1]}")
    return None


def assistant_extra_parts(additional_kwargs: Mapping[str, Any]) -> list[MessagePart]:
    """The hosted tool items and the audio answer an assistant message carries, to send back."""
    parts: list[MessagePart] = []
    for item in additional_kwargs.get("built_in_tool_calls") or []:
        data: Any = item.model_dump(exclude_none=True) if hasattr(item, "model_dump") else item
        if isinstance(data, Mapping):
            parts.append(HostedToolPart(cast(dict[str, JsonValue], dict(cast(Mapping[str, Any], data)))))
    audio = additional_kwargs.get("audio")
    if isinstance(audio, Mapping):
        spec = cast(Mapping[str, Any], audio)
        if isinstance(spec.get("id"), str):
            parts.append(AudioPart(id=spec["id"], transcript=spec.get("transcript")))
    return parts


def is_repeated_output(block: object) -> bool:
    """Blocks of an assistant message that repeat what its ``additional_kwargs`` send back (not sent again)."""
    return isinstance(block, ImageBlock | AudioBlock | CitationBlock)


# -- out of the core ------------------------------------------------------------------------------------------


def from_core_extras(message: Message) -> tuple[list[Any], dict[str, Any]]:
    """The extra blocks (by position in ``message.parts``) and ``additional_kwargs`` of an assistant message."""
    blocks: list[Any] = []
    kwargs: dict[str, Any] = {}
    for part in message.parts:
        if isinstance(part, HostedToolPart):
            kwargs.setdefault("built_in_tool_calls", []).append(dict(part.item))
            result = part.item.get("result")
            if part.item_type == "image_generation_call" and isinstance(result, str):
                mime = f"image/{part.item.get('output_format') or 'png'}"
                blocks.append(ImageBlock(image=base64.b64decode(result), image_mimetype=mime))
        elif isinstance(part, TextPart) and part.annotations:
            kwargs["annotations"] = [dict(a) for a in part.annotations]
            blocks.extend(_citation(a, part.text) for a in part.annotations)
        elif isinstance(part, AudioPart):
            kwargs["audio"] = {"id": part.id, "transcript": part.transcript, "expires_at": part.expires_at}
            if part.data:
                blocks.append(AudioBlock(audio=base64.b64decode(part.data), format=part.format or "wav"))
    return blocks, kwargs


def _citation(annotation: Mapping[str, JsonValue], text: str) -> CitationBlock:
    start, end = annotation.get("start_index"), annotation.get("end_index")
    location = {k: v for k, v in (("start_index", start), ("end_index", end)) if isinstance(v, int)}
    if isinstance(annotation.get("index"), int):
        location["index"] = cast(int, annotation["index"])
    cited = text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
    source = annotation.get("url") or annotation.get("file_id") or ""
    title = annotation.get("title") or annotation.get("filename") or ""
    return CitationBlock(
        cited_content=TextBlock(text=cited),
        source=str(source),
        title=str(title),
        additional_location_info=location,
    )
