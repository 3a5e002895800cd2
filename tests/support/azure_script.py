"""What the loopback Azure server answers: scripted outcomes, recorded requests, and the default responder.

A test scripts :data:`Outcome` values (one consumed per request); when none is queued the server asks its
:data:`Responder`, by default :func:`deterministic_responder`, whose rules (first match wins) are:

1. The conversation ends with a tool result: answer in text that quotes the tool output.
2. ``tool_choice`` names a function (or is ``required``), or the last user message names a provided tool or says
   "use the tool": call the named tools (all named ones, in parallel) or else the first, with arguments built
   from the tool's parameter schema.
3. A ``json_schema`` response format: a minimal JSON instance of the schema; ``json_object``: a small object.
4. Otherwise: ``You said: <the last user message>``.

Both API shapes are read: Chat Completions (``messages``, ``tools[].function``, ``response_format``) and
Responses (``input``, flat ``tools[]``, ``function_call_output`` items, ``text.format``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from shared_core.messages import JsonValue
from tests.support.azure_shapes import FilterVerdict, ToolCall, Usage

__all__ = [
    "ApiShape",
    "BadGateway",
    "ConnectionReset",
    "HttpError",
    "Outcome",
    "PromptFiltered",
    "PromptView",
    "RecordedRequest",
    "Reply",
    "Responder",
    "RetryAfterHeader",
    "Unparsable",
    "as_responder",
    "decide_answer",
    "deterministic_responder",
    "read_prompt",
    "schema_instance",
]


RetryAfterHeader = Literal["retry-after", "retry-after-ms", "x-ms-retry-after-ms"]
ApiShape = Literal["chat", "responses"]


@dataclass(frozen=True, slots=True)
class Reply:
    """A 200 answer: text, tool calls (one or parallel), or both; streamed when the request asked.

    Attributes:
        text: The answer text (a JSON string for structured output); ``None`` with tool calls only.
        tool_calls: Calls to make; their arguments stream in ``argument_pieces`` fragments.
        usage: Token counts; ``None`` estimates them from the lengths.
        chunks: Stream the text in this many chunks; ``None`` streams it word by word.
        argument_pieces: Fragments per tool call's arguments.
        pack_tool_calls: Put the k-th fragment of every call in one chunk (several indexes per chunk).
        finish_reason: Override; by default ``stop``, ``tool_calls``, or ``content_filter`` when filtered.
        filter_after: The content filter cuts the answer after this many text chunks (stream and not).
        filter: The category that fires when ``filter_after`` is set.
        cut_after: Close the connection after this many stream events (the prompt-filter chunk is the first),
            without ``[DONE]`` / ``response.completed``.
        chunk_delay: Seconds between stream events.
        first_byte_delay: Seconds before the status line.
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    chunks: int | None = None
    argument_pieces: int = 4
    pack_tool_calls: bool = False
    finish_reason: str | None = None
    filter_after: int | None = None
    filter: FilterVerdict = field(default_factory=FilterVerdict)
    cut_after: int | None = None
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class PromptFiltered:
    """A 400 ``content_filter`` on the prompt, as plain JSON even when a stream was asked (recorded shapes)."""

    filter: FilterVerdict = field(default_factory=lambda: FilterVerdict(category="self_harm"))
    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class HttpError:
    """An error status with Azure's body for it: 401, 404 (``DeploymentNotFound``), 429, 500, 503, or any.

    Attributes:
        status: The HTTP status.
        retry_after: Seconds to announce (429 and 503 mostly), in the header kinds of ``retry_after_headers``.
        retry_after_headers: Which headers carry it: ``retry-after`` (whole seconds), ``retry-after-ms``,
            ``x-ms-retry-after-ms`` (milliseconds); one name or several.
        body: Replaces Azure's body for ``status``.
        first_byte_delay: Seconds before the status line.
    """

    status: int
    retry_after: float | None = None
    retry_after_headers: RetryAfterHeader | tuple[RetryAfterHeader, ...] = "retry-after"
    body: bytes | None = None
    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class BadGateway:
    """An HTML 502 page, as an Application Gateway or proxy in front of Azure sends (no ``apim-request-id``)."""

    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """Drop the connection without a response (TCP RST; with ``rst=False`` a plain close)."""

    rst: bool = True
    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Unparsable:
    """A 200 whose body does not parse (a JSON body, or an event stream when a stream was asked)."""

    body: bytes | None = None
    first_byte_delay: float = 0.0


Outcome: TypeAlias = Reply | PromptFiltered | HttpError | BadGateway | ConnectionReset | Unparsable


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server received it (headers lower-cased; secrets hidden from ``repr``).

    Attributes:
        method: HTTP method.
        path: URL path.
        query: Query parameters, one value per name.
        headers: Request headers, lower-cased names.
        body: The parsed JSON body (``None`` when absent or not JSON).
        api: ``chat`` or ``responses`` for a known route, else ``None``.
        deployment: The deployment from the path or the body's ``model``.
        stream: The body asked for a stream.
        received_at: ``time.monotonic()`` on arrival.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    body: JsonValue = field(repr=False)
    api: ApiShape | None = None
    deployment: str | None = None
    stream: bool = False
    received_at: float = 0.0

    @property
    def json(self) -> dict[str, JsonValue]:
        """The body as a JSON object (empty when it was not one)."""
        return self.body if isinstance(self.body, dict) else {}


Responder: TypeAlias = Callable[[RecordedRequest], Outcome]
"""Decides the outcome of a request the script has nothing queued for."""


def deterministic_responder(request: RecordedRequest) -> Outcome:
    """The default responder: echo text, call a tool when asked, fill a json_schema, read tool results."""
    text, calls = decide_answer(request.api or "chat", request.json)
    return Reply(text=text, tool_calls=calls)


_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class PromptView:
    """What the responder reads from a request body.

    Attributes:
        last_user: The last user message's text.
        tool_output: The trailing tool result's text, when the conversation ends with one.
        tools: (name, parameter schema) of each function tool offered.
        forced: Tool names ``tool_choice`` forces (``required`` forces the first tool).
        schema: The ``json_schema`` response format's schema.
        json_object: A ``json_object`` response format was asked.
    """

    last_user: str = ""
    tool_output: str | None = None
    tools: tuple[tuple[str, JsonValue], ...] = ()
    forced: tuple[str, ...] = ()
    schema: JsonValue = None
    json_object: bool = False


def _text_of(content: JsonValue) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return "" if content is None else json.dumps(content)


def _items(body: Mapping[str, JsonValue], api: str) -> list[dict[str, JsonValue]]:
    raw = body.get("messages") if api == "chat" else body.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _tools(body: Mapping[str, JsonValue]) -> tuple[tuple[str, JsonValue], ...]:
    out: list[tuple[str, JsonValue]] = []
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        spec = tool.get("function", tool)
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            out.append((str(spec["name"]), spec.get("parameters")))
    return tuple(out)


def _forced(body: Mapping[str, JsonValue], tools: tuple[tuple[str, JsonValue], ...]) -> tuple[str, ...]:
    choice = body.get("tool_choice")
    if choice == "required" and tools:
        return (tools[0][0],)
    if isinstance(choice, dict):
        spec = choice.get("function", choice)
        name = spec.get("name") if isinstance(spec, dict) else None
        return (name,) if isinstance(name, str) else ()
    return ()


def _format(body: Mapping[str, JsonValue], api: str) -> tuple[JsonValue, bool]:
    if api == "chat":
        fmt = body.get("response_format")
        holder = fmt.get("json_schema") if isinstance(fmt, dict) else None
    else:
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        holder = fmt
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema" and isinstance(holder, dict):
        return holder.get("schema", {}), False
    return None, kind == "json_object"


def read_prompt(api: str, body: Mapping[str, JsonValue]) -> PromptView:
    """Read the parts of a chat or Responses request body the responder decides on."""
    items = _items(body, api)
    last_user = next((_text_of(i.get("content")) for i in reversed(items) if i.get("role") == "user"), "")
    tool_output: str | None = None
    if items:
        last = items[-1]
        if last.get("role") == "tool":
            tool_output = _text_of(last.get("content"))
        elif last.get("type") == "function_call_output":
            tool_output = _text_of(last.get("output"))
    tools = _tools(body)
    schema, json_object = _format(body, api)
    return PromptView(last_user, tool_output, tools, _forced(body, tools), schema, json_object)


def decide_answer(api: str, body: Mapping[str, JsonValue]) -> tuple[str | None, tuple[ToolCall, ...]]:
    """The deterministic answer to a request: (text, tool calls); see the module docstring for the rules."""
    view = read_prompt(api, body)
    if view.tool_output is not None:
        return f"The tool returned: {view.tool_output}", ()
    wanted = _wanted_tools(view)
    if wanted:
        params = dict(view.tools)
        return None, tuple(ToolCall(name, _arguments_for(params.get(name))) for name in wanted)
    if view.schema is not None:
        return json.dumps(schema_instance(view.schema, root=view.schema), separators=(",", ":")), ()
    if view.json_object:
        return json.dumps({"answer": view.last_user[:100]}), ()
    return f"You said: {view.last_user[:200]}", ()


def _arguments_for(parameters: JsonValue) -> str:
    if not isinstance(parameters, dict):
        return "{}"
    return json.dumps(schema_instance(parameters, root=parameters))


def _wanted_tools(view: PromptView) -> tuple[str, ...]:
    if view.forced:
        return view.forced
    if not view.tools:
        return ()
    said = view.last_user.lower()
    named = tuple(name for name, _ in view.tools if name.lower() in said)
    if named:
        return named
    return (view.tools[0][0],) if "use the tool" in said or "use a tool" in said else ()


def _resolve(schema: Mapping[str, JsonValue], root: JsonValue) -> Mapping[str, JsonValue]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: JsonValue = root
    for key in ref[2:].split("/"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def schema_instance(schema: JsonValue, *, root: JsonValue = None, depth: int = 0) -> JsonValue:
    """A minimal JSON value valid against ``schema``: every property filled, first enum value, bounds kept.

    Handles ``type`` (one or a list), ``enum``, ``const``, ``default``, ``anyOf``/``oneOf``/``allOf`` (first
    branch), local ``$ref`` (``#/$defs/…``), nested objects and arrays (``minItems``, at least one item).
    """
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None if depth > _MAX_DEPTH else "example"
    top = root if root is not None else schema
    node = _resolve(schema, top)
    for key in ("const", "default"):
        if key in node:
            return node[key]
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = node.get(key)
        if isinstance(branches, list) and branches:
            return schema_instance(branches[0], root=top, depth=depth + 1)
    kind = node.get("type", "object" if "properties" in node else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _typed_instance(node, kind, top, depth)


def _typed_instance(schema: Mapping[str, JsonValue], kind: JsonValue, root: JsonValue, depth: int) -> JsonValue:
    match kind:
        case "object":
            props = schema.get("properties")
            props = props if isinstance(props, dict) else {}
            return {name: schema_instance(sub, root=root, depth=depth + 1) for name, sub in props.items()}
        case "array":
            low = schema.get("minItems")
            count = max(1, low if isinstance(low, int) else 1)
            return [schema_instance(schema.get("items", {}), root=root, depth=depth + 1) for _ in range(count)]
        case "integer" | "number":
            value = _number(schema)
            return int(value) if kind == "integer" else float(value)
        case "boolean":
            return True
        case "null":
            return None
        case _:
            return _string(schema)


def _bound(schema: Mapping[str, JsonValue], key: str) -> float | None:
    value = schema.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(schema: Mapping[str, JsonValue]) -> float:
    low, low_open = _bound(schema, "minimum"), _bound(schema, "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum"), _bound(schema, "exclusiveMaximum")
    value = low if low is not None else (low_open + 1 if low_open is not None else 0.0)
    if high is not None and value > high:
        value = high
    if high_open is not None and value >= high_open:
        value = high_open - 1
    return value


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: Mapping[str, JsonValue]) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    low, high = schema.get("minLength"), schema.get("maxLength")
    text = "example"
    if isinstance(low, int) and low > len(text):
        text = text * (low // len(text) + 1)
    return text[:high] if isinstance(high, int) else text


def as_responder(default: Responder | Outcome) -> Responder:
    """``default`` itself when it is a responder; a responder always giving ``default`` when it is an outcome."""
    if isinstance(default, Reply | PromptFiltered | HttpError | BadGateway | ConnectionReset | Unparsable):
        fixed: Outcome = default
        return lambda _request: fixed
    return default
