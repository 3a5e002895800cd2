"""The core's errors as exceptions LangChain code can catch by its own types, and ours by the core's.

Each class here subclasses both the core error (so ``except shared_core.ContentFilterError`` keeps working)
and the matching ``langchain_core.exceptions.ModelError`` subclass (so ``except ModelRateLimitError`` works
as it does for other providers). Errors that carry a partial answer also carry it as a LangChain
``AIMessage`` (``partial_message``).
"""

from __future__ import annotations

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.messages import AIMessage

from langchain_azure_gateway.convert import from_core_result
from shared_core import (
    AuthenticationError,
    BadRequestError,
    ChatResult,
    ConnectionFailedError,
    ContentFilterError,
    ContextLengthExceededError,
    ConversationError,
    DeploymentNotFoundError,
    GatewayError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StreamInterruptedError,
    UnsupportedContentError,
    UnsupportedParameterError,
)

__all__ = [
    "AzureAuthenticationError",
    "AzureBadRequestError",
    "AzureConnectionError",
    "AzureContentFilterError",
    "AzureContextLengthError",
    "AzureConversationError",
    "AzureDeploymentNotFoundError",
    "AzureInvalidResponseError",
    "AzureNotFoundError",
    "AzureRateLimitError",
    "AzureServerError",
    "AzureStreamInterruptedError",
    "AzureTimeoutError",
    "AzureUnsupportedContentError",
    "AzureUnsupportedParameterError",
    "from_core_error",
]


class AzureContentFilterError(ContentFilterError, ModelInvalidRequestError):
    """Azure's content filter fired; ``side``, ``categories`` and ``partial_message`` say what and how far.

    Attributes:
        partial_message: What the model produced before the filter fired, as an ``AIMessage`` (``None`` for
            a filtered prompt).
    """

    partial_message: AIMessage | None = None


class AzureStreamInterruptedError(StreamInterruptedError, ModelConnectionError):
    """The stream broke after it started; ``partial_message`` holds what arrived."""

    partial_message: AIMessage | None = None


class AzureRateLimitError(RateLimitError, ModelRateLimitError):
    """Azure throttled the request (429) after our retries; ``retry_after`` says how long it asked to wait."""


class AzureAuthenticationError(AuthenticationError, ModelAuthenticationError):
    """Azure refused the credential, or no token could be obtained."""


class AzureDeploymentNotFoundError(DeploymentNotFoundError, ModelNotFoundError):
    """The deployment does not exist on the endpoint."""


class AzureNotFoundError(NotFoundError, ModelNotFoundError):
    """Azure answered 404 for the route itself (the URL path or api-version is wrong)."""


class AzureContextLengthError(ContextLengthExceededError, ContextOverflowError):
    """The prompt plus the requested output exceed the model's context window."""


class AzureBadRequestError(BadRequestError, ModelInvalidRequestError):
    """Azure rejected the request (4xx), or the history was invalid with repair off."""


class AzureUnsupportedParameterError(UnsupportedParameterError, ModelInvalidRequestError):
    """The model or api-version does not accept a parameter; ``parameter``, ``model`` and ``api_version`` say which."""


class AzureConversationError(ConversationError, ModelInvalidRequestError):
    """The history would be rejected by Azure (repair is off); the message lists the problems."""


class AzureUnsupportedContentError(UnsupportedContentError, ModelInvalidRequestError):
    """A message holds content Azure cannot carry; ``index`` and ``block_type`` say which."""


class AzureInvalidResponseError(InvalidResponseError, ModelAPIError):
    """The answer could not be decoded (an HTML page from a proxy, a truncated or non-JSON body)."""


class AzureServerError(ServerError, ModelAPIError):
    """Azure failed (5xx) or answered with something that is not a response."""


class AzureTimeoutError(RequestTimeoutError, ModelTimeoutError):
    """The request or the call's deadline timed out."""


class AzureConnectionError(ConnectionFailedError, ModelConnectionError):
    """Azure could not be reached."""


# Order matters: the first class the error is an instance of wins (subclasses before their bases).
_TABLE: tuple[tuple[type[GatewayError], type[GatewayError]], ...] = (
    (ContentFilterError, AzureContentFilterError),
    (StreamInterruptedError, AzureStreamInterruptedError),
    (RateLimitError, AzureRateLimitError),
    (AuthenticationError, AzureAuthenticationError),
    (DeploymentNotFoundError, AzureDeploymentNotFoundError),
    (NotFoundError, AzureNotFoundError),
    (ContextLengthExceededError, AzureContextLengthError),
    (UnsupportedParameterError, AzureUnsupportedParameterError),
    (UnsupportedContentError, AzureUnsupportedContentError),
    (ConversationError, AzureConversationError),
    (BadRequestError, AzureBadRequestError),
    (ServerError, AzureServerError),
    (InvalidResponseError, AzureInvalidResponseError),
    (RequestTimeoutError, AzureTimeoutError),
    (ConnectionFailedError, AzureConnectionError),
)


def from_core_error(error: GatewayError) -> Exception:
    """The LangChain-catchable form of a core error, with every attribute of the original.

    Errors with no LangChain counterpart (configuration errors) are returned unchanged.
    """
    lc_type = next((lc for core, lc in _TABLE if isinstance(error, core)), None)
    if lc_type is None or isinstance(error, lc_type):
        return error
    converted = lc_type.__new__(lc_type)
    converted.__dict__.update(error.__dict__)
    converted.args = error.args
    if isinstance(converted, AzureContentFilterError | AzureStreamInterruptedError):
        partial: ChatResult | None = converted.partial
        converted.partial_message = from_core_result(partial) if partial is not None else None
    return converted
