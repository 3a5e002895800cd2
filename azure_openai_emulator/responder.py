"""The emulator's default answers: a small deterministic responder that behaves enough like a model.

:func:`deterministic_responder` reads a request body of either API shape (Chat Completions: ``messages``,
``tools[].function``, ``response_format``; Responses: ``input``, flat ``tools[]``, ``function_call_output``
items, ``text.format``) and decides, first match wins:

1. The conversation ends with a tool result: answer in text that quotes it (``The tool returned: …``).
2. A tool is wanted (never with ``tool_choice: "none"``):

   - ``tool_choice`` names a function, or is ``required`` (the most relevant tool, else the first);
   - the last user message names provided tools: all of them are called, in parallel;
   - a tool's name shares a word with the message ("weather" calls ``get_weather``): that one;
   - the message says "tool": the first tool.

   Arguments are a minimal instance of the tool's parameter schema, with numbers from the message in its
   number parameters and quoted text (else the message itself) in its free-text string parameters.
3. A ``json_schema`` response format: a minimal JSON instance of the schema. ``json_object``: the keys the
   user put in quotes ('setup', 'punchline'), else ``{"answer": …}``.
4. Otherwise: ``You said: <the last user message>``.

Everything is a pure function of the body, so equal requests get equal answers (only ids and timestamps,
added by the server, differ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from azure_openai_emulator.completion import ToolCall
from azure_openai_emulator.schema_example import schema_instance
from azure_openai_emulator.script import Outcome, RecordedRequest, Reply
from shared_core.messages import JsonValue

__all__ = ["PromptView", "decide_answer", "deterministic_responder", "read_prompt"]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# A quote opens and closes at a word's edge, so the apostrophe in "What's" starts nothing.
_QUOTED = re.compile(r"(?<!\w)'([^']+)'(?!\w)|(?<!\w)\"([^\"]+)\"(?!\w)")
_WORD = re.compile(r"[a-z0-9]+")
# Words too common to tie a question to a tool ("get the weather" must not call get_time).
_STOPWORDS = frozenset(
    {"a", "an", "and", "are", "call", "can", "do", "does", "for", "from", "function", "get", "is", "it", "me"}
    | {"my", "of", "on", "or", "please", "set", "the", "to", "tool", "tools", "use", "what", "with"}
)


def deterministic_responder(request: RecordedRequest) -> Outcome:
    """The default responder: quote tool results, call tools when asked, fill json_schema, else echo."""
    text, calls = decide_answer(request.api or "chat", request.json)
    return Reply(text=text, tool_calls=calls)


@dataclass(frozen=True, slots=True)
class PromptView:
    """What the responder reads from a request body.

    Attributes:
        last_user: The last user message's text.
        tool_output: The trailing tool result's text, when the conversation ends with one.
        tools: (name, parameter schema) of each function tool offered.
        forced: Tool names ``tool_choice`` forces (``required`` forces the most relevant, else the first).
        schema: The ``json_schema`` response format's schema.
        json_object: A ``json_object`` response format was asked.
        no_tools: ``tool_choice`` is ``none``.
    """

    last_user: str = ""
    tool_output: str | None = None
    tools: tuple[tuple[str, JsonValue], ...] = ()
    forced: tuple[str, ...] = ()
    schema: JsonValue = None
    json_object: bool = False
    no_tools: bool = False


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


def _forced(body: Mapping[str, JsonValue], tools: tuple[tuple[str, JsonValue], ...], said: str) -> tuple[str, ...]:
    choice = body.get("tool_choice")
    if choice == "required" and tools:
        return _relevant(tools, said)[:1] or (tools[0][0],)
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
    forced = _forced(body, tools, last_user)
    return PromptView(last_user, tool_output, tools, forced, schema, json_object, body.get("tool_choice") == "none")


def decide_answer(api: str, body: Mapping[str, JsonValue]) -> tuple[str | None, tuple[ToolCall, ...]]:
    """The deterministic answer to a request: (text, tool calls); see the module docstring for the rules."""
    view = read_prompt(api, body)
    if view.tool_output is not None:
        return f"The tool returned: {view.tool_output}", ()
    wanted = _wanted_tools(view)
    if wanted:
        params = dict(view.tools)
        return None, tuple(ToolCall(name, _arguments_for(params.get(name), view.last_user)) for name in wanted)
    if view.schema is not None:
        return json.dumps(schema_instance(view.schema, root=view.schema), separators=(",", ":")), ()
    if view.json_object:
        keys = [a or b for a, b in _QUOTED.findall(view.last_user)]
        if keys:
            return json.dumps({key: f"a {key} about {view.last_user[:40]}" for key in keys}), ()
        return json.dumps({"answer": view.last_user[:100]}), ()
    return f"You said: {view.last_user[:200]}", ()


def _relevant(tools: tuple[tuple[str, JsonValue], ...], said: str) -> tuple[str, ...]:
    """The first tool whose name shares a meaningful word with what the user said."""
    words = set(_WORD.findall(said.lower())) - _STOPWORDS
    for name, _ in tools:
        if set(_WORD.findall(name.lower().replace("_", " "))) & words:
            return (name,)
    return ()


def _wanted_tools(view: PromptView) -> tuple[str, ...]:
    if view.no_tools or not view.tools:
        return ()
    if view.forced:
        return view.forced
    said = view.last_user.lower()
    named = tuple(name for name, _ in view.tools if name.lower() in said)
    if named:
        return named
    relevant = _relevant(view.tools, said)
    if relevant:
        return relevant
    return (view.tools[0][0],) if "tool" in _WORD.findall(said) else ()


def _free_text(schema: JsonValue) -> bool:
    """A string parameter with no enum, const, format or pattern: any text the user gave fits it."""
    if not isinstance(schema, dict) or schema.get("type") != "string":
        return False
    return not any(key in schema for key in ("enum", "const", "format", "pattern", "minLength"))


def _arguments_for(parameters: JsonValue, said: str) -> str:
    if not isinstance(parameters, dict):
        return "{}"
    filled = schema_instance(parameters, root=parameters)
    if not isinstance(filled, dict):
        return json.dumps(filled)
    numbers = [float(n) for n in _NUMBER.findall(said)]
    quoted = [a or b for a, b in _QUOTED.findall(said)]
    properties = parameters.get("properties")
    for name, prop in properties.items() if isinstance(properties, dict) else ():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind in ("integer", "number") and numbers and isinstance(prop, dict):
            value = numbers.pop(0)
            number = int(value) if kind == "integer" else value
            if _within(prop, number):
                filled[name] = number
        elif _free_text(prop) and said:
            text = quoted.pop(0) if quoted else said
            limit = prop.get("maxLength") if isinstance(prop, dict) else None
            filled[name] = text[:limit] if isinstance(limit, int) else text
    return json.dumps(filled)


def _bound(schema: Mapping[str, JsonValue], key: str) -> float | None:
    value = schema.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _within(schema: Mapping[str, JsonValue], value: float) -> bool:
    """Whether a number from the message keeps the schema's bounds (else the filler's value stays)."""
    low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
    low_open, high_open = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")
    if (low is not None and value < low) or (high is not None and value > high):
        return False
    if (low_open is not None and value <= low_open) or (high_open is not None and value >= high_open):
        return False
    enum = schema.get("enum")
    return not isinstance(enum, list) or value in enum
