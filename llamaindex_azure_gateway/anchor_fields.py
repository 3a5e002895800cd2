"""What each field of llama-index's ``AzureOpenAI`` and ``AzureOpenAIResponses`` does here.

:data:`FIELD_EFFECTS` names every field and constructor argument of the two classes (llama-index-llms-azure-openai
0.6, with their OpenAI bases) and says what it does on :class:`~llamaindex_azure_gateway.AzureGatewayLLM`:
``same`` (the same request and result), ``mapped`` (the same effect through our own machinery), or ``refused``
(a typed :class:`UnsupportedFieldError` at construction, never silently ignored). The differential tests
(``tests/dropin/``) check the table against the installed classes and the wire.

The Responses-only fields take effect with ``use_responses_api=True``; given with Chat Completions they are
refused, since that API has no place for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from shared_core import ConfigurationError

__all__ = [
    "FIELD_EFFECTS",
    "REFUSED_ARGUMENTS",
    "RESPONSES_ONLY_FIELDS",
    "UnsupportedFieldError",
    "check_fields",
    "endpoint_from_api_base",
]

FIELD_EFFECTS: Mapping[str, str] = {
    # llama-index's LLM base
    "callback_manager": "same",
    "system_prompt": "same",
    "messages_to_prompt": "same",
    "completion_to_prompt": "same",
    "output_parser": "same",
    "pydantic_program_mode": "same",
    "query_wrapper_prompt": "same",
    "rate_limiter": "same",
    # OpenAI / AzureOpenAI
    "model": "mapped: the base model, for rules, metadata and cost; the deployment's own model when not given",
    "engine": "same",
    "deployment_name": "same",
    "deployment_id": "same",
    "deployment": "same",
    "azure_deployment": "same",
    "azure_endpoint": "same",
    "api_base": "mapped: https://host/openai[/deployments/<name>] becomes the endpoint (and deployment)",
    "api_key": "same",
    "api_version": "mapped: defaults to 2024-10-21 instead of raising when unset",
    "use_azure_ad": "mapped: the token provider, else DefaultAzureCredential; tokens are refreshed",
    "azure_ad_token_provider": "mapped: sent as Authorization: Bearer, refreshed per call",
    "temperature": "same (not sent to a reasoning model unless set)",
    "max_tokens": "same (max_completion_tokens where the api-version or model needs it)",
    "additional_kwargs": "same",
    "max_retries": "mapped: our one retry loop, honouring retry-after",
    "timeout": "same",
    "reuse_client": "mapped: pooled clients are always shared per process; no effect on requests",
    "default_headers": "same",
    "http_client": "same",
    "async_http_client": "same",
    "strict": "same",
    "reasoning_effort": "same",
    "logprobs": "same (also on the Responses API, which llama-index's Responses class does not offer)",
    "top_logprobs": "same",
    "modalities": "same (audio output comes back as an AudioBlock; docs/content.md)",
    "audio_config": "same (sent as audio)",
    "openai_client": "refused: no openai SDK client is used",
    "async_openai_client": "refused: no openai SDK client is used",
    # AzureOpenAIResponses / OpenAIResponses (use_responses_api=True)
    "max_output_tokens": "same (alias of max_tokens)",
    "top_p": "same (1.0 sent on Responses unless set, as llama-index)",
    "reasoning_options": "mapped: sent as reasoning for any model (llama-index sends it only for o1 names)",
    "include": "same",
    "instructions": "same",
    "track_previous_responses": "same",
    "store": "same",
    "previous_response_id": "same",
    "built_in_tools": "same (items in built_in_tool_calls, images as ImageBlock; docs/content.md)",
    "truncation": "same",
    "user": "same",
    "call_metadata": "same",
    "context_window": "same",
}
"""Every llama-index field and constructor argument, and its effect here."""

RESPONSES_ONLY_FIELDS = (
    "reasoning_options",
    "include",
    "instructions",
    "track_previous_responses",
    "store",
    "previous_response_id",
    "built_in_tools",
    "truncation",
    "call_metadata",
)
"""Fields only the Responses API has; refused with Chat Completions."""

REFUSED_ARGUMENTS: Mapping[str, str] = {
    "openai_client": "this class does not use the openai SDK; pass http_client=httpx.Client(...) to customise HTTP",
    "async_openai_client": "this class does not use the openai SDK; pass async_http_client=httpx.AsyncClient(...)",
}


class UnsupportedFieldError(ConfigurationError):
    """A llama-index ``AzureOpenAI`` / ``AzureOpenAIResponses`` setting this class does not serve.

    Attributes:
        field: The field's name.
    """

    field: str = ""

    @classmethod
    def of(cls, field: str, reason: str, *, fix: str) -> UnsupportedFieldError:
        """The error for ``field``: why it is not supported and how to do without it."""
        error = cls(f"AzureGatewayLLM does not support {field}: {reason}", source=f"kwarg {field!r}", fix=fix)
        error.field = field
        return error


def check_fields(given: Mapping[str, Any]) -> None:
    """Refuse, before validation, what cannot take effect: :class:`UnsupportedFieldError` names field and fix.

    Checked on the constructor's arguments (not in a validator) so the typed error reaches the caller as is.
    """
    for name, fix in REFUSED_ARGUMENTS.items():
        if given.get(name) is not None:
            raise UnsupportedFieldError.of(name, "it configures an openai SDK client", fix=fix)
    if given.get("use_responses_api"):
        return
    for name in RESPONSES_ONLY_FIELDS:
        if given.get(name) not in (None, False):
            raise UnsupportedFieldError.of(
                name, "it is a Responses API setting", fix="also pass use_responses_api=True (the Responses API)"
            )


def endpoint_from_api_base(api_base: str) -> tuple[str, str | None]:
    """The endpoint (and deployment, if the URL names one) of an openai-SDK-style ``api_base``.

    ``https://host/openai`` gives ``https://host``; ``https://host/openai/deployments/d`` also gives ``d``, which
    the SDK would have put in every URL. Any other path is left to the endpoint check, which names it.
    """
    parts = urlsplit(api_base.rstrip("/"))
    path = parts.path
    deployment: str | None = None
    head, marker, tail = path.partition("/openai/deployments/")
    if marker and tail and "/" not in tail:
        path, deployment = head + "/openai", tail
    endpoint = f"{parts.scheme}://{parts.netloc}{path}" if parts.scheme else api_base
    return endpoint, deployment
