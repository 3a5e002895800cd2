"""Pure builders of Responses API bodies and SSE streams (``/openai/responses``, ``/openai/v1/responses``).

Shapes as recorded in ``../shared/azure-recordings``: the ``response`` object echoes the request's settings
and names the deployment as ``model``; bodies are pretty-printed, stream events compact, numbered by
``sequence_number`` and ended by ``response.completed`` with no ``[DONE]``. Chat Completions shapes are in
:mod:`~azure_openai_emulator.shapes`, which re-exports :func:`responses_body` and :func:`responses_stream`.
"""

from __future__ import annotations

from collections.abc import Mapping

from azure_openai_emulator.completion import Completion, Usage, compact, hex_id, obfuscation, split_text
from azure_openai_emulator.content import hosted_item_events
from shared_core.messages import JsonValue

__all__ = ["responses_body", "responses_stream"]


def _responses_tools(request: Mapping[str, JsonValue]) -> list[JsonValue]:
    tools = request.get("tools")
    out: list[JsonValue] = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            out.append(
                {
                    "type": "function",
                    "description": tool.get("description"),
                    "name": tool.get("name"),
                    "parameters": tool.get("parameters"),
                    "strict": tool.get("strict", True),
                }
            )
        else:
            out.append(tool)
    return out


def _text_format(request: Mapping[str, JsonValue]) -> JsonValue:
    text = request.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return fmt if isinstance(fmt, dict) else {"type": "text"}
    out: dict[str, JsonValue] = {"type": "json_schema", "description": fmt.get("description")}
    out.update({k: v for k, v in fmt.items() if k not in ("type", "description")})
    return out


def _responses_usage(usage: Usage) -> dict[str, JsonValue]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _output_items(c: Completion, *, done: bool) -> list[dict[str, JsonValue]]:
    items: list[dict[str, JsonValue]] = [dict(item) for item in c.extras.hosted_items]
    if c.text is not None:
        status = "incomplete" if c.filtered else ("completed" if done else "in_progress")
        annotations: list[JsonValue] = list(c.extras.annotations)
        content: list[JsonValue] = [{"type": "output_text", "annotations": annotations, "logprobs": [], "text": c.text}]
        items.append(
            {
                "id": hex_id("msg_", c.response_id),
                "type": "message",
                "status": status,
                "content": content if done else [],
                "role": "assistant",
            }
        )
    for index, call in enumerate(c.tool_calls):
        items.append(
            {
                "id": hex_id("fc_", f"{c.response_id}/{index}"),
                "type": "function_call",
                "status": "completed" if done else "in_progress",
                "arguments": call.arguments if done else "",
                "call_id": call.call_id,
                "name": call.name,
            }
        )
    return items


def responses_body(c: Completion, request: Mapping[str, JsonValue], *, done: bool = True) -> dict[str, JsonValue]:
    """The ``response`` object (the non-streamed body, and the payload of created/completed events).

    ``model`` echoes the deployment name, not a versioned model, as recorded. A filtered answer is
    ``status: incomplete`` with ``incomplete_details.reason: content_filter`` (recorded on a stream).
    """
    reasoning = request.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    status = ("incomplete" if c.filtered else "completed") if done else "in_progress"
    return {
        "id": c.response_id,
        "object": "response",
        "created_at": c.created,
        "status": status,
        "background": False,
        "content_filters": None,
        "error": None,
        "incomplete_details": {"reason": "content_filter"} if c.filtered and done else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": c.model,
        "output": list[JsonValue](_output_items(c, done=True)) if done else [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": {"effort": effort, "summary": None},
        "safety_identifier": None,
        "service_tier": "default" if done else "auto",
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": _text_format(request), "verbosity": "medium"},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": _responses_tools(request),
        "top_logprobs": 0,
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _responses_usage(c.usage) if done else None,
        "user": None,
        "metadata": request.get("metadata", {}),
    }


def _message_events(
    c: Completion, item: dict[str, JsonValue], final: dict[str, JsonValue], index: int = 0
) -> list[dict[str, JsonValue]]:
    ids: dict[str, JsonValue] = {"item_id": item["id"], "output_index": index, "content_index": 0}
    part: dict[str, JsonValue] = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    events: list[dict[str, JsonValue]] = [
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **ids, "part": part},
    ]
    for n, piece in enumerate(c.text_pieces):
        events.append(
            {
                "type": "response.output_text.delta",
                **ids,
                "delta": piece,
                "logprobs": [],
                "obfuscation": obfuscation(f"{c.response_id}/t{n}"),
            }
        )
    text = c.text or ""
    for n, annotation in enumerate(c.extras.annotations):
        events.append(
            {"type": "response.output_text.annotation.added", **ids, "annotation_index": n, "annotation": annotation}
        )
    done_part: dict[str, JsonValue] = {**part, "text": text, "annotations": list(c.extras.annotations)}
    tail: list[dict[str, JsonValue]] = [
        {"type": "response.output_text.done", **ids, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **ids, "part": done_part},
        {"type": "response.output_item.done", "output_index": index, "item": final},
    ]
    return events + tail


def _call_events(
    c: Completion, index: int, item: dict[str, JsonValue], final: dict[str, JsonValue]
) -> list[dict[str, JsonValue]]:
    ids: dict[str, JsonValue] = {"item_id": item["id"], "output_index": index}
    call = c.tool_calls[index - len(c.extras.hosted_items) - (1 if c.text is not None else 0)]
    events: list[dict[str, JsonValue]] = [{"type": "response.output_item.added", "output_index": index, "item": item}]
    for n, piece in enumerate(split_text(call.arguments, c.argument_pieces)):
        padding = obfuscation(f"{c.response_id}/{index}/{n}")
        events.append({"type": "response.function_call_arguments.delta", **ids, "delta": piece, "obfuscation": padding})
    tail: list[dict[str, JsonValue]] = [
        {"type": "response.function_call_arguments.done", **ids, "arguments": call.arguments},
        {"type": "response.output_item.done", "output_index": index, "item": final},
    ]
    return events + tail


def responses_stream(c: Completion, request: Mapping[str, JsonValue]) -> list[bytes]:
    """The ``event:``/``data:`` pairs of a Responses stream, numbered by ``sequence_number``.

    It ends at ``response.completed`` (``response.incomplete`` when the filter cut it) with no ``[DONE]``.
    A message item streams with ``status: incomplete`` throughout when the filter fires, as recorded.
    """
    pending = responses_body(c, request, done=False)
    events: list[dict[str, JsonValue]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    started, finished = _output_items(c, done=False), _output_items(c, done=True)
    for index, (item, final) in enumerate(zip(started, finished, strict=True)):
        if index < len(c.extras.hosted_items):
            events += hosted_item_events(final, index)
        elif item["type"] == "message":
            events += _message_events(c, item, final, index)
        else:
            events += _call_events(c, index, item, final)
    last = "response.incomplete" if c.filtered else "response.completed"
    events.append({"type": last, "response": responses_body(c, request, done=True)})
    out: list[bytes] = []
    for n, event in enumerate(events):
        numbered: dict[str, JsonValue] = {"type": event["type"], "sequence_number": n}
        numbered.update({k: v for k, v in event.items() if k != "type"})
        out.append(f"event: {event['type']}\ndata: ".encode() + compact(numbered) + b"\n\n")
    return out
