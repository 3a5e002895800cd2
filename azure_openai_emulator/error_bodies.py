"""Azure's error bodies and the headers around every response, as recorded (or as documented where noted).

Bodies come back as bytes because their serialization is part of the shape: Chat Completions' errors are
compact JSON, the OpenAI-style ones (``invalid_request_error``, ``server_error``) are pretty-printed.
"""

from __future__ import annotations

from azure_openai_emulator.completion import DeploymentInfo, FilterVerdict, compact, pretty
from azure_openai_emulator.shapes import PROMPT_FILTER
from shared_core.messages import JsonValue

__all__ = [
    "bad_gateway_html",
    "base_headers",
    "chat_prompt_filter_error",
    "deployment_headers",
    "deployment_not_found_error",
    "rate_limit_error",
    "resource_not_found_error",
    "responses_prompt_filter_error",
    "server_error",
    "service_unavailable_error",
    "success_headers",
    "unauthorized_error",
    "unknown_model_error",
    "unsupported_parameter_error",
]

_STS = "max-age=31536000; includeSubDomains; preload"
_FILTER_POLICY_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI{apostrophe}s content management "
    "policy. Please modify your prompt and retry. To learn more about our content filtering policies please "
    "read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)


# ---------------------------------------------------------------------------------------------- errors


def chat_prompt_filter_error(verdict: FilterVerdict) -> bytes:
    """Chat's 400 for a filtered prompt: ``innererror.content_filter_result``, ``type: null``, ``status: 400``."""
    body: dict[str, JsonValue] = {
        "error": {
            "message": _FILTER_POLICY_MESSAGE.format(apostrophe="'"),
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": verdict.results(PROMPT_FILTER),
            },
        }
    }
    return compact(body)


def responses_prompt_filter_error() -> bytes:
    """The Responses API's 400 for a filtered prompt: ``invalid_request_error``, no details (recorded)."""
    error: dict[str, JsonValue] = {
        "message": _FILTER_POLICY_MESSAGE.format(apostrophe="\u2019"),
        "type": "invalid_request_error",
        "param": "prompt",
        "code": "content_filter",
    }
    return pretty({"error": error})


def deployment_not_found_error() -> bytes:
    """The classic route's 404 for an unknown deployment (recorded; Azure sends it without Content-Type)."""
    error: dict[str, JsonValue] = {
        "type": "invalid_request_error",
        "code": "DeploymentNotFound",
        "message": (
            "The API deployment for this resource does not exist. If you created the deployment within the "
            "last 5 minutes, please wait a moment and try again."
        ),
    }
    return pretty({"error": error})


def unknown_model_error(model: str) -> bytes:
    """The ``/openai/v1`` route's 400 for a ``model`` no deployment has (recorded)."""
    message = f"Unknown model: {model}"
    return compact({"error": {"code": "unknown_model", "message": message, "details": message}})


def unsupported_parameter_error(param: str, message: str, *, code: str = "unsupported_parameter") -> bytes:
    """The 400 a model sends for a parameter it does not take (recorded for ``max_tokens`` on gpt-5-mini).

    Args:
        param: The parameter named in ``param``.
        message: Azure's sentence (``Unsupported parameter: 'max_tokens' is not supported with this model...``).
        code: ``unsupported_parameter``, or ``unsupported_value`` for a value other than the default.
    """
    error: dict[str, JsonValue] = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return pretty({"error": error})


def resource_not_found_error() -> bytes:
    """Azure's 404 for a path it does not serve."""
    return compact({"error": {"code": "404", "message": "Resource not found"}})


def unauthorized_error(*, bearer: bool) -> bytes:
    """Azure's 401: ``code`` is the string ``"401"``; the message differs for keys and Entra tokens."""
    if bearer:
        message = (
            "Unauthorized. Access token is missing, invalid, audience is incorrect "
            "(https://cognitiveservices.azure.com), or have expired."
        )
    else:
        message = (
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
            "key for an active subscription and use a correct regional API endpoint for your resource."
        )
    return compact({"error": {"code": "401", "message": message}})


def rate_limit_error(operation: str, api_version: str, retry_seconds: int) -> bytes:
    """Azure's 429 body, naming the operation (``ChatCompletions_Create``) and the api-version."""
    message = (
        f"Requests to the {operation} Operation under Azure OpenAI API version {api_version} have exceeded "
        f"token rate limit of your current OpenAI S0 pricing tier. Please retry after {retry_seconds} seconds. "
        "Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
    )
    return compact({"error": {"code": "429", "message": message}})


def server_error(request_id: str) -> bytes:
    """Azure's 500 body (OpenAI-style ``server_error``)."""
    error: dict[str, JsonValue] = {
        "message": (
            "The server had an error processing your request. Sorry about that! You can retry your request, or "
            "contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if "
            f"you keep seeing this error. (Please include the request ID {request_id} in your email.)"
        ),
        "type": "server_error",
        "param": None,
        "code": None,
    }
    return pretty({"error": error})


def service_unavailable_error() -> bytes:
    """Azure's 503 body."""
    message = "The service is temporarily unable to process your request. Please try again later."
    return compact({"error": {"code": "ServiceUnavailable", "message": message}})


def bad_gateway_html() -> bytes:
    """The HTML page an Application Gateway in front of Azure OpenAI sends for a 502."""
    return (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n"
        b"</body>\r\n</html>\r\n"
    )


# ---------------------------------------------------------------------------------------------- headers


def base_headers(request_id: str, region: str) -> dict[str, str]:
    """Headers on every Azure response, errors included."""
    return {
        "strict-transport-security": _STS,
        "apim-request-id": request_id,
        "x-content-type-options": "nosniff",
        "x-ms-region": region,
    }


def deployment_headers(
    api: str,
    deployment: str,
    info: DeploymentInfo,
    *,
    remaining: tuple[int, int],
    client_request_id: str | None,
    token_headers: bool = True,
) -> dict[str, str]:
    """Headers Azure adds once it has resolved the deployment (successes, and 400/429s after routing).

    Args:
        api: ``chat`` or ``responses``; the Responses front end names its backend hosts and sends no
            ``x-ms-rai-invoked`` (recorded).
        deployment: The deployment name (``x-ms-deployment-name``).
        info: The deployment's limits.
        remaining: Remaining (requests, tokens) this minute.
        client_request_id: ``x-ms-client-request-id`` to echo (the v1 chat route sends ``Not-Set``); ``None``
            sends none.
        token_headers: Send the token limits; the Responses front end leaves them off its streams and errors.
    """
    headers = {"x-ms-deployment-name": deployment}
    if api == "chat":
        headers["x-ms-rai-invoked"] = "true"
    else:
        headers |= {
            "azure-openai-data-collection": "true",
            "x-ms-cmp-host": "cmp.eastus.hyena.infra.ai.azure.com",
            "x-ms-oai-backend-host": "https://aoai-sp-eastus-prod.eastus.inference.ml.azure.com",
            "x-ms-oai-clip-host": "https://aoai-sp-vcl-eastus-prod.eastus.inference.ml.azure.com",
        }
    headers |= {
        "x-ratelimit-limit-requests": str(info.requests_per_minute),
        "x-ratelimit-remaining-requests": str(remaining[0]),
    }
    if token_headers:
        headers |= {
            "x-ratelimit-limit-tokens": str(info.tokens_per_minute),
            "x-ratelimit-remaining-tokens": str(remaining[1]),
        }
    if client_request_id is not None:
        headers["x-ms-client-request-id"] = client_request_id
    return headers


def success_headers(api: str, *, stream: bool, trace_id: str) -> dict[str, str]:
    """The headers a 200 adds for ``api`` (``chat`` or ``responses``), Content-Type included."""
    headers = {"content-type": "text/event-stream; charset=utf-8" if stream else "application/json"}
    if api == "chat":
        headers |= {"azureml-model-session": "d070-20250922222629", "x-accel-buffering": "no"}
    headers["x-request-id"] = trace_id
    return headers
