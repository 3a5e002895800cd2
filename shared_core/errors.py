"""The one error tree of the package.

Every failure a caller can see is one of these classes; the transport translates HTTP failures into them once,
through the table in ``transport/error_map.py``, and the framework packages map them onto their own types.

```
GatewayError                              base: deployment, endpoint, status, code, request_id, retry_after
├── ConfigurationError (ValueError)       bad settings; names the source (kwarg, file key, env var) and the fix
│   └── MissingExtraError (ImportError)   names the extra to install
├── AuthenticationError                   401/403 or a credential that could not produce a token
├── NotFoundError                         404: the route does not exist (URL path or api-version)
│   └── DeploymentNotFoundError           404 DeploymentNotFound / model_not_found, or 400 unknown_model on /openai/v1
├── BadRequestError                       any other 4xx
│   ├── ContextLengthExceededError        400 context_length_exceeded
│   └── UnsupportedParameterError         400 unsupported_parameter / unsupported_value; names the parameter
├── ContentFilterError                    prompt or completion filtered; carries details and the partial output
├── TransientError                        the service or network failed, not the request: a caller may retry
│   ├── RateLimitError                    429; carries retry_after (seconds)
│   ├── ServerError                       5xx (501 and 505 excepted, no retry helps those)
│   ├── RequestTimeoutError               408, or our own connect/read/deadline timeout
│   ├── ConnectionFailedError             connection refused / reset / DNS failure
│   └── StreamInterruptedError            a stream that broke after it started; carries the partial output
├── InvalidResponseError                  a body we could not decode (HTML proxy pages, truncated JSON)
└── ConversationError (ValueError)        a history Azure would reject, with repair switched off
    └── UnsupportedContentError           content Azure cannot carry (audio, a document, an image in a system
                                          message ...), raised by the core codecs and both framework converters
```

The gateway's own retry loop decides per status (``transport/retry.py``); ``TransientError`` is for the caller
that retries a whole call later (a queue worker, a batch job): ``except TransientError: requeue()``.

Every error pickles and copies with all of its fields (``GatewayError.__reduce__`` rebuilds the instance
without calling ``__init__``), so errors cross process boundaries (multiprocessing, Celery) intact; a test
walks every subclass, the framework packages' included.

No class shadows a builtin (``TimeoutError``, ``ConnectionError``). Messages never contain a secret: callers
pass descriptions of credentials (their kind and source), never their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from shared_core import display

if TYPE_CHECKING:
    from shared_core.result import ChatResult

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContentFilterError",
    "ContextLengthExceededError",
    "ConversationError",
    "DeploymentNotFoundError",
    "ErrorContext",
    "FilterCategory",
    "GatewayError",
    "InvalidResponseError",
    "MissingExtraError",
    "NotFoundError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StreamInterruptedError",
    "TransientError",
    "UnsupportedContentError",
    "UnsupportedParameterError",
]


class ErrorContext(TypedDict, total=False):
    """Context every error can carry; see :class:`GatewayError`."""

    deployment: str | None
    endpoint: str | None
    status: int | None
    code: str | None
    request_id: str | None
    retry_after: float | None


class GatewayError(Exception):
    """Base of every error this package raises.

    Attributes:
        message: What went wrong and how to fix it.
        deployment: The Azure deployment the request went to, when known.
        endpoint: The Azure endpoint (scheme and host), when known.
        status: The HTTP status, when there was a response.
        code: Azure's error code (``DeploymentNotFound``, ``content_filter``, ``429`` ...), when given.
        request_id: Azure's ``apim-request-id`` header, for support tickets.
        retry_after: Seconds the server asked us to wait, when it said.
        attempts: When the gateway gave up on a call (every deployment failed, or its deadline passed): one line
            per HTTP attempt, in order (``"eastus/gpt-4o: ServerError (HTTP 503): ..."``); else empty.
    """

    attempts: tuple[str, ...] = ()

    def __init__(
        self,
        message: str,
        *,
        deployment: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.deployment = deployment
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def context(self) -> dict[str, str | int | float]:
        """The non-empty context fields, for logs and debug events."""
        fields: dict[str, str | int | float | None] = {
            "deployment": self.deployment,
            "endpoint": self.endpoint,
            "status": self.status,
            "code": self.code,
            "request_id": self.request_id,
            "retry_after": self.retry_after,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def __str__(self) -> str:
        ctx = self.context()
        if not ctx:
            return self.message
        details = ", ".join(f"{k}={v}" for k, v in ctx.items())
        return f"{self.message} [{details}]"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[Any, tuple[type[GatewayError], tuple[Any, ...], dict[str, Any]]]:
        # BaseException's own reduce replays ``cls(*args)``, which loses keyword-only fields and fails for
        # classes whose __init__ takes other arguments (ContentFilterError's ``side``, MissingExtraError's
        # three). Rebuilding from the instance dict works for every subclass, present and future.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def _repr_html_(self) -> str:
        """Notebook display: what happened, the fix, the request id (escaped; errors never hold a secret)."""
        return display.error_html(self)


def _rebuild(cls: type[GatewayError], args: tuple[Any, ...], state: dict[str, Any]) -> GatewayError:
    """Unpickle/copy helper for :meth:`GatewayError.__reduce__`."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(GatewayError, ValueError):
    """A setting is missing or malformed.

    Attributes:
        source: Where the bad value came from: ``kwarg 'x'``, ``file cfg.toml key 'y'``, ``env AZURE_...``.
        fix: How to fix it, in one sentence.
    """

    def __init__(self, message: str, *, source: str | None = None, fix: str | None = None) -> None:
        text = message
        if source:
            text = f"{text} (from {source})"
        if fix:
            text = f"{text}. Fix: {fix}"
        super().__init__(text)
        self.source = source
        self.fix = fix


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the '{module}' package, which is not installed",
            fix=f"pip install 'azure-openai-gateway[{extra}]'",
        )
        self.extra = extra
        self.module = module


class AuthenticationError(GatewayError):
    """Azure refused the credential, or the credential could not produce a token.

    Attributes:
        credential: The kind of credential used (``api_key``, ``managed_identity`` ...), never its value.
        scope: The Entra scope requested, for token credentials.
    """

    def __init__(
        self,
        message: str,
        *,
        credential: str | None = None,
        scope: str | None = None,
        **ctx: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, **ctx)
        self.credential = credential
        self.scope = scope


class NotFoundError(GatewayError):
    """Azure answered 404: the URL path or api-version serves no such route (Azure's ``"404"`` code).

    A missing deployment is the more specific :class:`DeploymentNotFoundError`.
    """


class DeploymentNotFoundError(NotFoundError):
    """The deployment does not exist on that endpoint (404 ``DeploymentNotFound``, 400 ``unknown_model``)."""


class TransientError(GatewayError):
    """The service, the network or the quota failed, not the request: the same call may succeed later.

    The gateway already retried and failed over as its policy allows; catch this to requeue a whole call.
    """


class RateLimitError(TransientError):
    """Azure throttled the request (429); ``retry_after`` says how long it asked us to wait."""


@dataclass(frozen=True, slots=True)
class FilterCategory:
    """One content-filter category as Azure reported it."""

    name: str
    filtered: bool
    severity: str | None = None
    detected: bool | None = None


class ContentFilterError(GatewayError):
    """Azure's content filter fired.

    Attributes:
        side: ``"prompt"`` when the input was rejected, ``"completion"`` when the output was cut.
        categories: Every category Azure reported, filtered or not.
        partial: What the model produced before the filter fired (text and tool calls), if anything.
    """

    def __init__(
        self,
        message: str,
        *,
        side: Literal["prompt", "completion"],
        categories: Sequence[FilterCategory] = (),
        partial: ChatResult | None = None,
        **ctx: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, **ctx)
        self.side: Literal["prompt", "completion"] = side
        self.categories = tuple(categories)
        self.partial = partial

    @property
    def filtered_categories(self) -> tuple[str, ...]:
        """Names of the categories that caused the filtering."""
        return tuple(c.name for c in self.categories if c.filtered)

    @property
    def partial_text(self) -> str:
        """The text produced before the filter fired ('' when none)."""
        return self.partial.text if self.partial is not None else ""


class BadRequestError(GatewayError):
    """Azure rejected the request (4xx) for a reason with no more specific class."""


class ContextLengthExceededError(BadRequestError):
    """The prompt plus the requested output exceed the model's context window."""


class UnsupportedParameterError(BadRequestError):
    """The model or api-version does not accept a parameter (for example ``temperature`` on a reasoning model).

    Attributes:
        parameter: The parameter Azure named, when it did.
        model: The model the rules were applied for.
        api_version: The api-version of the request.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        model: str | None = None,
        api_version: str | None = None,
        **ctx: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, **ctx)
        self.parameter = parameter
        self.model = model
        self.api_version = api_version


class ServerError(TransientError):
    """Azure failed (5xx)."""


class RequestTimeoutError(TransientError):
    """The request, a stream chunk, or the whole call's deadline timed out."""


class ConnectionFailedError(TransientError):
    """The connection could not be made or was reset before a response.

    Attributes:
        connected: ``False`` when the connection was never made (refused, DNS), so Azure did no work for the
            request; set by the transport, which sees the underlying exception.
    """

    def __init__(self, message: str, *, connected: bool = True, **ctx: Unpack[ErrorContext]) -> None:
        super().__init__(message, **ctx)
        self.connected = connected


class InvalidResponseError(GatewayError):
    """The response could not be decoded (an HTML page from a proxy, truncated or non-JSON body)."""


class StreamInterruptedError(TransientError):
    """A stream broke after it had started; ``partial`` holds everything received until then."""

    def __init__(self, message: str, *, partial: ChatResult | None = None, **ctx: Unpack[ErrorContext]) -> None:
        super().__init__(message, **ctx)
        self.partial = partial


class ConversationError(GatewayError, ValueError):
    """The conversation would be rejected by Azure (for example a tool call without its result)."""


class UnsupportedContentError(ConversationError):
    """A message holds content Azure cannot carry (audio, video, a document, an image in a system message ...).

    One class whatever the layer that finds it: the core codecs, the LangChain converter and the LlamaIndex
    converter all raise it, naming the message and the kind of content.

    Attributes:
        index: The message's position in the conversation, when known.
        block_type: The kind of content refused (a LlamaIndex block type, a LangChain content-block type, a
            core part kind, or ``"role"``/``"tool"`` for what was missing), when known.
    """

    def __init__(
        self, message: str, *, index: int | None = None, block_type: str | None = None, **ctx: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **ctx)
        self.index = index
        self.block_type = block_type
