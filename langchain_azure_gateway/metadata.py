"""``response_metadata`` with the keys and shapes ``AzureChatOpenAI`` produces, for both API shapes and streams.

``AzureChatOpenAI`` (langchain-openai 1.8) writes, on Chat Completions: ``token_usage`` (Azure's ``usage``
object), ``model_provider`` (``"openai"``, which langchain-core's content-block translators key on),
``model_name``, ``system_fingerprint``, ``id``, ``service_tier`` (when sent), ``finish_reason``, ``logprobs``,
``prompt_filter_results`` and ``content_filter_results``; on a stream only ``model_provider``,
``finish_reason``, ``model_name`` and ``system_fingerprint`` (it drops the id and Azure's filter verdicts;
ours keeps them). On the Responses API: ``id``, ``created_at``, ``metadata``, ``model``, ``object``,
``status``, ``service_tier``, ``user``, ``incomplete_details`` (those Azure sent), ``model_provider`` and
``model_name``. ``model_version`` is appended to ``model_name`` as the anchor does; with
``include_response_headers`` the HTTP response headers go under ``headers``.

Ours adds ``deployment``, ``request_id``, ``created``, ``cost``, ``provider_details`` and, when the history was
repaired, ``conversation_repairs`` (``convert.response_metadata``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langchain_azure_gateway.convert import response_metadata
from shared_core import ChatResult, Usage
from shared_core.integration import TokenLogprob

__all__ = ["MetadataOptions", "anchor_metadata", "openai_logprobs", "token_usage"]

_RESPONSES_KEYS = ("created_at", "incomplete_details", "metadata", "object", "status", "user", "service_tier")


@dataclass(frozen=True, slots=True)
class MetadataOptions:
    """How a model shapes its results' metadata.

    Attributes:
        api: The API shape the call used.
        model_version: Appended to ``model_name`` (``AzureChatOpenAI.model_version``).
        include_headers: Put the response headers under ``headers``.
    """

    api: Literal["chat", "responses"] = "chat"
    model_version: str = ""
    include_headers: bool = False

    def model_name(self, model: str | None) -> str | None:
        """``model`` with the model version appended, as ``AzureChatOpenAI`` does."""
        if model and self.model_version:
            return f"{model}-{self.model_version}"
        return model


def token_usage(usage: Usage | None, raw: Any = None) -> dict[str, Any] | None:
    """Azure's Chat Completions ``usage`` object: the raw one when it was kept, else rebuilt from the counts."""
    if isinstance(raw, dict):
        return dict(raw)  # pyright: ignore[reportUnknownArgumentType]
    if usage is None:
        return None
    return usage.chat_completions_usage()


def openai_logprobs(logprobs: tuple[TokenLogprob, ...] | None) -> dict[str, Any] | None:
    """Log probabilities in the Chat Completions ``choice.logprobs`` shape (``{"content": [...], "refusal"}``)."""
    if logprobs is None:
        return None

    def token(item: TokenLogprob, *, top: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "token": item.token,
            "bytes": list(item.bytes) if item.bytes is not None else None,
            "logprob": item.logprob,
        }
        if top:
            out["top_logprobs"] = [token(alt, top=False) for alt in item.top_logprobs]
        return out

    return {"content": [token(item, top=True) for item in logprobs], "refusal": None}


def anchor_metadata(result: ChatResult, options: MetadataOptions, *, stream: bool) -> dict[str, Any]:
    """The ``response_metadata`` of a result: the anchor's keys over ours (module docstring)."""
    meta = response_metadata(result)
    details = result.provider_details
    meta["model_provider"] = "openai"
    meta["model_name"] = options.model_name(result.model)
    if options.api == "chat":
        if not stream:
            meta["token_usage"] = token_usage(result.usage, details.get("usage"))
        meta["logprobs"] = openai_logprobs(result.logprobs)
        if details.get("service_tier") is not None:
            meta["service_tier"] = details["service_tier"]
    else:
        meta["model"] = result.model
        meta["object"] = "response"
        for key in _RESPONSES_KEYS:
            if details.get(key) is not None:
                meta[key] = details[key]
        if result.created is not None:
            meta["created_at"] = float(result.created)
    if options.include_headers:
        meta["headers"] = dict(result.response_headers)
    return meta
