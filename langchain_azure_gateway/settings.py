"""From the model's fields and a call's kwargs to the core request, as ``AzureChatOpenAI`` builds its payload.

The model's own settings are built once per instance (:func:`base_settings`); each call lays its kwargs over
them (:func:`request_for`). Which API shape a call uses follows ``AzureChatOpenAI``'s rule
(:func:`responses_api_for`): ``use_responses_api`` when set, else the Responses API as soon as a field or call
argument only the Responses API has is used (``reasoning``, ``include``, ``truncation``,
``context_management``, ``previous_response_id``, ``use_previous_response_id``, ``text``), or the model is one
Azure serves only there (``*-pro``, ``codex``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage, BaseMessage

from langchain_azure_gateway.convert import to_core_messages, to_core_request
from shared_core import ChatRequest, ConfigurationError, GenerationSettings
from shared_core.integration import JsonValue

if TYPE_CHECKING:
    from langchain_azure_gateway.fields import AzureChatOpenAIFields

__all__ = ["base_settings", "request_for", "responses_api_for"]

_RESPONSES_ONLY = frozenset(
    {"context_management", "include", "previous_response_id", "reasoning", "text", "truncation"}
)
_RESPONSES_ONLY_PREFIXES = ("gpt-5-pro", "gpt-5.2-pro", "gpt-5.4-pro", "gpt-5.5-pro", "o1-pro", "o3-pro")
# Per-call arguments this module maps itself (convert.to_core_request handles the rest).
_CALL_FIELDS = frozenset(
    {
        "n",
        "top_logprobs",
        "service_tier",
        "verbosity",
        "reasoning",
        "logit_bias",
        "store",
        "include",
        "truncation",
        "instructions",
        "previous_response_id",
        "context_management",
        "prompt_cache_options",
        "extra_headers",
        "extra_query",
        "text",
    }
)


def responses_api_for(model: AzureChatOpenAIFields, kwargs: Mapping[str, Any]) -> bool:
    """Whether a call goes to the Responses API, by ``AzureChatOpenAI``'s rule (module docstring)."""
    if model.use_responses_api is not None:
        return model.use_responses_api
    fields_select = (
        model.reasoning is not None
        or model.include is not None
        or model.truncation is not None
        or model.context_management is not None
        or model.use_previous_response_id
        or model.output_version == "responses/v1"
    )
    name = model.model or ""
    prefers = name.startswith(_RESPONSES_ONLY_PREFIXES) or "codex" in name
    if fields_select or prefers:
        return True
    if not kwargs and not model.model_kwargs:
        return False
    return bool(_RESPONSES_ONLY & {*kwargs, *model.model_kwargs}) or _builtin_tools(kwargs.get("tools"))


def _builtin_tools(tools: object) -> bool:
    if not isinstance(tools, list | tuple):
        return False
    return any(isinstance(t, dict) and cast(dict[str, Any], t).get("type") not in (None, "function") for t in tools)


def base_settings(model: AzureChatOpenAIFields) -> GenerationSettings:
    """The model's own generation settings (no temperature or token limit unless the model sets them)."""
    extra: dict[str, JsonValue] = {}
    if model.logit_bias:
        extra["logit_bias"] = {str(k): v for k, v in model.logit_bias.items()}
    if model.prompt_cache_options is not None:
        extra["prompt_cache_options"] = cast(JsonValue, model.prompt_cache_options)
    if model.context_management is not None:
        extra["context_management"] = cast(JsonValue, model.context_management)
    extra.update(cast(Mapping[str, JsonValue], model.model_kwargs))
    extra.update(cast(Mapping[str, JsonValue], model.extra_body or {}))
    headers = {k: str(v) for k, v in (model.default_headers or {}).items()}
    if model.openai_organization:
        headers.setdefault("OpenAI-Organization", model.openai_organization)
    return GenerationSettings(
        temperature=model.temperature,
        max_tokens=model.max_tokens,
        top_p=model.top_p,
        seed=model.seed,
        n=model.n,
        presence_penalty=model.presence_penalty,
        frequency_penalty=model.frequency_penalty,
        logprobs=model.logprobs,
        top_logprobs=model.top_logprobs,
        reasoning_effort=model.reasoning_effort,
        reasoning=cast(Mapping[str, JsonValue], model.reasoning) if model.reasoning is not None else None,
        verbosity=model.verbosity,
        service_tier=model.service_tier,
        stop=tuple(model.stop) if model.stop else None,
        extra_body=extra,
        extra_headers=headers,
        extra_query={k: str(v) for k, v in (model.default_query or {}).items()},
    )


def request_for(
    model: AzureChatOpenAIFields,
    base: GenerationSettings,
    messages: Sequence[BaseMessage],
    stop: Sequence[str] | None,
    kwargs: Mapping[str, Any],
    *,
    responses: bool,
) -> ChatRequest:
    """The core request for one call: the model's settings, the call's kwargs over them."""
    if not kwargs:  # a plain invoke: the model's own settings and fields
        history: Sequence[BaseMessage] = messages
        previous = None
        if responses and model.use_previous_response_id:
            history, previous = _after_last_response(messages)
        return ChatRequest(
            to_core_messages(history),
            settings=base if stop is None else replace(base, stop=tuple(stop) or None),
            store=model.store,
            include=tuple(model.include) if model.include else (),
            truncation=model.truncation,
            previous_response_id=previous,
        )
    own = {k: v for k, v in kwargs.items() if k in _CALL_FIELDS}
    rest = {k: v for k, v in kwargs.items() if k not in _CALL_FIELDS}
    history = messages
    previous = own.get("previous_response_id")
    if previous is None and responses and model.use_previous_response_id:
        history, previous = _after_last_response(messages)
    request = to_core_request(to_core_messages(history), base, stop, rest)
    settings = _call_settings(request.settings, own, responses=responses)
    include = own.get("include", model.include)
    return replace(
        request,
        settings=settings,
        store=own.get("store", model.store),
        include=tuple(include) if include else (),
        truncation=own.get("truncation", model.truncation),
        instructions=own.get("instructions"),
        previous_response_id=previous,
    )


def _call_settings(settings: GenerationSettings, own: Mapping[str, Any], *, responses: bool) -> GenerationSettings:
    changes: dict[str, Any] = {}
    for name in ("n", "top_logprobs", "service_tier", "verbosity", "reasoning"):
        if name in own:
            changes[name] = own[name]
    extra: dict[str, JsonValue] = {}
    if "logit_bias" in own and own["logit_bias"] is not None:
        extra["logit_bias"] = {str(k): v for k, v in own["logit_bias"].items()}
    for name in ("prompt_cache_options", "text"):
        if own.get(name) is not None:
            extra[name] = own[name]
    context = own.get("context_management")
    if context is not None:
        if not responses:
            raise ConfigurationError("context_management is a Responses API field", fix="use_responses_api=True")
        extra["context_management"] = context
    if extra:
        changes["extra_body"] = {**settings.extra_body, **extra}
    if own.get("extra_headers"):
        changes["extra_headers"] = {**settings.extra_headers, **own["extra_headers"]}
    if own.get("extra_query"):
        changes["extra_query"] = {**settings.extra_query, **{k: str(v) for k, v in own["extra_query"].items()}}
    return replace(settings, **changes) if changes else settings


def _after_last_response(messages: Sequence[BaseMessage]) -> tuple[Sequence[BaseMessage], str | None]:
    """The messages after the last answer with a Responses id, and that id (``AzureChatOpenAI``'s rule)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, AIMessage):
            response_id = message.response_metadata.get("id")
            if isinstance(response_id, str) and response_id.startswith("resp_"):
                return messages[index + 1 :], response_id
    return messages, None
