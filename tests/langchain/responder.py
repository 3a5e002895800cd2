"""A default responder for the loopback server that answers LangChain's standard tests as a model would.

It wraps the server's deterministic responder (through its scripting API, ``set_default``) with three habits
of real models that the standard tests rely on:

- a tool whose name shares a word with the question is called ("weather" -> ``get_weather``), or any tool when
  the user says "tool";
- tool arguments come from the question: numbers for number parameters, quoted text (or else the question)
  for string parameters, in order;
- in JSON mode, the keys the user names in quotes ('setup', 'punchline') are the keys of the answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from azure_openai_emulator.responder import PromptView, deterministic_responder, read_prompt
from azure_openai_emulator.schema_example import schema_instance
from azure_openai_emulator.script import Outcome, RecordedRequest, Reply
from azure_openai_emulator.shapes import ToolCall
from shared_core.messages import JsonValue

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_WORD = re.compile(r"[a-z]+")


def realistic_responder(request: RecordedRequest) -> Outcome:
    """Answer like a model would (see the module docstring); otherwise as the deterministic responder."""
    api = request.api or "chat"
    body = request.json
    view = read_prompt(api, body)
    if view.tool_output is None and view.tools and body.get("tool_choice") != "none":
        chosen = view.forced or _relevant_tools(view)
        if chosen:
            params = dict(view.tools)
            calls = tuple(ToolCall(name, json.dumps(_arguments(params.get(name), view.last_user))) for name in chosen)
            return Reply(tool_calls=calls[:1])
    if view.json_object and view.schema is None:
        keys = [a or b for a, b in _QUOTED.findall(view.last_user)]
        if keys:
            return Reply(text=json.dumps({k: f"a {k} about {view.last_user[:20]}" for k in keys}))
    return deterministic_responder(request)


def _relevant_tools(view: PromptView) -> tuple[str, ...]:
    words = set(_WORD.findall(view.last_user.lower()))
    for name, _ in view.tools:
        if name.lower() in view.last_user.lower() or set(_WORD.findall(name.lower())) & (words - {"get", "the"}):
            return (name,)
    if "tool" in words:
        return (view.tools[0][0],)
    return ()


def _arguments(schema: JsonValue, text: str) -> dict[str, JsonValue]:
    if not isinstance(schema, Mapping):
        return {}
    filled = schema_instance(schema, root=schema)
    out: dict[str, JsonValue] = dict(filled) if isinstance(filled, dict) else {}
    properties = schema.get("properties")
    numbers = [float(n) for n in _NUMBER.findall(text)]
    quoted = [a or b for a, b in _QUOTED.findall(text)]
    for name, prop in properties.items() if isinstance(properties, Mapping) else ():
        kind = prop.get("type") if isinstance(prop, Mapping) else None
        if kind in {"integer", "number"} and numbers:
            value = numbers.pop(0)
            out[name] = int(value) if kind == "integer" else value
        elif kind == "string":
            out[name] = quoted.pop(0) if quoted else text
    return out
