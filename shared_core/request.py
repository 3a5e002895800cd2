"""A chat request in our own types: messages, tools, tool choice and generation settings.

The wire codecs turn a :class:`ChatRequest` into Chat Completions or Responses JSON; nothing here knows about
either shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, cast

from shared_core.errors import ConfigurationError
from shared_core.messages import JsonValue, Message

__all__ = [
    "ChatRequest",
    "GenerationSettings",
    "HostedToolChoice",
    "HostedToolSpec",
    "NamedToolChoice",
    "ReasoningEffort",
    "ResponseFormat",
    "ToolChoice",
    "ToolSpec",
    "hosted_tool_choice",
    "json_schema_unavailable",
    "tool_from_dict",
]

_CREDENTIAL_HEADERS = frozenset({"api-key", "authorization"})

ReasoningEffort: TypeAlias = str
"""Effort for reasoning models (``none``, ``minimal``, ``low``, ``medium``, ``high``, ``xhigh`` ...): any string is
sent as given, so Azure judges values this package does not know yet."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function tool the model may call.

    Attributes:
        name: The function name.
        description: What it does, for the model.
        parameters: The JSON schema of its arguments.
        strict: Ask Azure to enforce the schema exactly (structured outputs); ``None`` leaves it unset.
    """

    name: str
    description: str | None = None
    parameters: Mapping[str, JsonValue] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @classmethod
    def from_dict(cls, tool: Mapping[str, JsonValue]) -> ToolSpec:
        """Read a tool in any of the three shapes users hold.

        Accepted: the Chat Completions ``{"type": "function", "function": {...}}``, the Responses
        ``{"type": "function", "name": ..., "parameters": ...}``, and ``{name, description, input_schema}``.

        Raises:
            ConfigurationError: The dict is none of those shapes.
        """
        body: Mapping[str, JsonValue] = tool
        function = tool.get("function")
        if isinstance(function, dict):
            body = function
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"tool definition has no 'name': {sorted(tool)}",
                fix="pass {'type': 'function', 'function': {'name': ..., 'parameters': {...}}}",
            )
        schema: JsonValue = body.get("parameters", body.get("input_schema"))
        if schema is None:
            schema = {"type": "object", "properties": {}}
        if not isinstance(schema, dict):
            raise ConfigurationError(f"tool '{name}' has parameters that are not a JSON schema object")
        description = body.get("description")
        strict = body.get("strict")
        return cls(
            name=name,
            description=description if isinstance(description, str) else None,
            parameters=schema,
            strict=strict if isinstance(strict, bool) else None,
        )


@dataclass(frozen=True, slots=True)
class HostedToolSpec:
    """A tool Azure runs itself (Responses API only): web search, file search, code interpreter, image
    generation, MCP, computer use.

    Attributes:
        config: The tool as the Responses API takes it, ``type`` included (``{"type": "web_search_preview"}``,
            ``{"type": "file_search", "vector_store_ids": [...]}``, ``{"type": "mcp", "server_label": ...}``).
    """

    config: Mapping[str, JsonValue]

    @property
    def type(self) -> str:
        """The tool's ``type`` (``web_search_preview``, ``code_interpreter`` ...)."""
        value = self.config.get("type")
        return value if isinstance(value, str) else ""


def tool_from_dict(tool: Mapping[str, JsonValue]) -> ToolSpec | HostedToolSpec:
    """A tool dict as a function :class:`ToolSpec`, or a :class:`HostedToolSpec` when its ``type`` names a
    tool Azure runs itself (anything but ``function``, e.g. ``{"type": "web_search_preview"}``).

    Raises:
        ConfigurationError: A function tool with no name (see :meth:`ToolSpec.from_dict`).
    """
    kind = tool.get("type")
    if isinstance(kind, str) and kind not in ("function", "") and "function" not in tool:
        return HostedToolSpec(dict(tool))
    return ToolSpec.from_dict(tool)


@dataclass(frozen=True, slots=True)
class NamedToolChoice:
    """Force the model to call this one tool."""

    name: str


@dataclass(frozen=True, slots=True)
class HostedToolChoice:
    """Force the model to use a tool Azure runs itself (Responses API): ``{"type": "web_search_preview"}``."""

    type: str


_HOSTED_TOOL_TYPES = frozenset(
    {"web_search_preview", "web_search", "file_search", "code_interpreter", "image_generation", "mcp"}
    | {"computer_use_preview", "web_search_preview_2025_03_11", "local_shell"}
)


def hosted_tool_choice(value: object) -> HostedToolChoice | None:
    """A tool choice naming a hosted tool (``"file_search"`` or ``{"type": "file_search"}``), else ``None``."""
    kind: object = cast(Mapping[str, object], value).get("type") if isinstance(value, Mapping) else value
    if isinstance(kind, str) and kind in _HOSTED_TOOL_TYPES:
        return HostedToolChoice(kind)
    return None


ToolChoice: TypeAlias = Literal["auto", "none", "required"] | NamedToolChoice | HostedToolChoice


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """The shape the answer must take.

    Attributes:
        type: ``text``, ``json_object`` (any JSON), or ``json_schema`` (JSON matching ``schema``).
        name: The schema's name (``json_schema`` only).
        description: What the answer is for, shown to the model (``json_schema`` only).
        schema: The JSON schema (``json_schema`` only).
        strict: Ask Azure to enforce the schema exactly.
    """

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: Mapping[str, JsonValue] | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """Sampling and output settings. ``None`` means "do not send; let Azure use its default".

    Attributes:
        temperature: Sampling temperature (dropped for reasoning models, with a warning).
        top_p: Nucleus sampling (dropped for reasoning models, with a warning).
        max_tokens: Output token limit; encoded as ``max_tokens``, ``max_completion_tokens`` or
            ``max_output_tokens`` by model and api-version.
        stop: Stop sequences.
        seed: Sampling seed.
        presence_penalty: Presence penalty.
        frequency_penalty: Frequency penalty.
        response_format: Structured output.
        parallel_tool_calls: Allow several tool calls in one turn.
        reasoning_effort: Effort for reasoning models.
        user: End-user id for Azure abuse monitoring.
        logprobs: Return log probabilities (``include: message.output_text.logprobs`` on the Responses API).
        top_logprobs: How many alternatives to return per token (0-20).
        n: How many choices to generate (Chat Completions only).
        service_tier: Azure's processing tier (``auto``, ``default``, ``flex``, ``priority`` ...).
        verbosity: Answer length for GPT-5 models (``low``, ``medium``, ``high``); ``text.verbosity`` on Responses.
        reasoning: The Responses ``reasoning`` object (``{"effort": ..., "summary": ...}``); ``reasoning_effort``
            fills its ``effort`` when unset. On Chat Completions, its ``effort`` becomes ``reasoning_effort``.
        extra_body: Extra top-level JSON fields, passed through as given (they win over ours).
        extra_headers: Extra HTTP headers for this request (``default_headers`` of the frameworks); they never
            replace the credential headers.
        extra_query: Extra query parameters (``default_query``); ``api-version`` stays the one configured.
    """

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: ResponseFormat | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: ReasoningEffort | None = None
    user: str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    n: int | None = None
    service_tier: str | None = None
    verbosity: str | None = None
    reasoning: Mapping[str, JsonValue] | None = None
    extra_body: Mapping[str, JsonValue] = field(default_factory=lambda: {})
    extra_headers: Mapping[str, str] = field(default_factory=lambda: {})
    extra_query: Mapping[str, str] = field(default_factory=lambda: {})

    def with_extras(
        self, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """``headers`` and ``query`` with :attr:`extra_headers` / :attr:`extra_query` added; ours always win.

        ``headers`` are the request's own (lower-case names). An extra header with the same name in any case, or
        a credential header (``api-key``, ``authorization``), is dropped: the chosen credential is the one sent.
        """
        extra = {
            name: value
            for name, value in self.extra_headers.items()
            if name.lower() not in headers and name.lower() not in _CREDENTIAL_HEADERS
        }
        return {**extra, **headers}, {**self.extra_query, **query}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything needed for one model call, independent of the API shape.

    Attributes:
        messages: The conversation, oldest first.
        tools: Tools the model may call: functions, and (Responses API only) tools Azure runs itself.
        tool_choice: Whether and which tool must be called.
        settings: Sampling and output settings.
        model: The model (or deployment) the caller asked for; the deployment map resolves it.
        previous_response_id: Responses API only: continue a stored response.
        store: Ask Azure to store the response (Responses API; Chat Completions stored completions).
        instructions: Responses API only: the top-level ``instructions`` (system text outside the input items).
        include: Responses API only: extra output to include (``reasoning.encrypted_content`` ...), added to
            what the encoder asks for itself.
        truncation: Responses API only: ``auto`` or ``disabled``.
    """

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec | HostedToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    model: str | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    instructions: str | None = None
    include: tuple[str, ...] = ()
    truncation: str | None = None


_JSON_SCHEMA_API_VERSION = "2024-08-01-preview"


def json_schema_unavailable(model: str | None, api_version: str | None) -> str | None:
    """Why ``response_format: json_schema`` cannot be used for this model and api-version, or ``None``.

    The model rule is ``AzureChatOpenAI``'s (``gpt-3*``, ``gpt-4-*`` and ``gpt-4`` have no structured outputs);
    the api-version rule is Azure's (``json_schema`` from 2024-08-01-preview on; ``v1`` and undated count as new).
    Both frameworks' ``with_structured_output`` / ``structured_predict`` fall back to function calling, with a
    warning, when this returns a reason.
    """
    if model and (model.startswith(("gpt-3", "gpt-4-")) or model == "gpt-4"):
        return f"model {model!r} does not support structured outputs (json_schema)"
    dated = api_version is not None and len(api_version) >= 10 and api_version[:4].isdigit()
    if dated and api_version is not None and api_version[:10] < _JSON_SCHEMA_API_VERSION[:10]:
        return f"api-version {api_version!r} predates json_schema output ({_JSON_SCHEMA_API_VERSION} or later)"
    return None
