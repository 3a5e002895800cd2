"""Framework-neutral core of the Azure OpenAI gateway.

Configuration, the Azure auth chain, deployment mapping, neutral message/request/result types, wire codecs,
transport and the gateway pipeline. Never imports a framework.

The names below are what a user of the core needs: the gateway and its configuration, requests and messages,
results and the text stream, the error tree, costs, debug-event sinks, and the health, retry and timeout
policies. Everything else lives in its defining module (``shared_core.result`` holds every stream event,
``shared_core.messages`` every message part, ``shared_core.transport.strategies`` the routing strategies, ...).
The framework packages import from here and from :mod:`shared_core.integration` only.
"""

import importlib
import typing

from shared_core.version import __version__  # noqa: F401  (not in __all__: a module attribute, not an API name)

if typing.TYPE_CHECKING:
    from shared_core.config import DeploymentConfig, EndpointConfig, GatewayConfig, load_config
    from shared_core.costs import CallCost, CostTracker
    from shared_core.errors import (
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConnectionFailedError,
        ContentFilterError,
        ContextLengthExceededError,
        ConversationError,
        DeploymentNotFoundError,
        GatewayError,
        InvalidResponseError,
        MissingExtraError,
        NotFoundError,
        RateLimitError,
        RequestTimeoutError,
        ServerError,
        StreamInterruptedError,
        TransientError,
        UnsupportedContentError,
        UnsupportedParameterError,
    )
    from shared_core.events import DebugEvent, EventSink, ListSink, LoggingSink
    from shared_core.gateway import Gateway
    from shared_core.messages import AudioPart, FilePart, ImagePart, Message, TextPart, ToolCallPart, ToolResultPart
    from shared_core.request import ChatRequest, GenerationSettings, ToolSpec
    from shared_core.result import ChatResult, StreamEvent, TextDelta, Usage
    from shared_core.tool_calls import ToolCall
    from shared_core.transport.health import HealthPolicy, HealthStore, InMemoryHealthStore
    from shared_core.transport.http import Timeouts
    from shared_core.transport.retry import RetryPolicy

__all__ = [
    "AudioPart",
    "AuthenticationError",
    "BadRequestError",
    "CallCost",
    "ChatRequest",
    "ChatResult",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContentFilterError",
    "ContextLengthExceededError",
    "ConversationError",
    "CostTracker",
    "DebugEvent",
    "DeploymentConfig",
    "DeploymentNotFoundError",
    "EndpointConfig",
    "EventSink",
    "FilePart",
    "Gateway",
    "GatewayConfig",
    "GatewayError",
    "GenerationSettings",
    "HealthPolicy",
    "HealthStore",
    "ImagePart",
    "InMemoryHealthStore",
    "InvalidResponseError",
    "ListSink",
    "LoggingSink",
    "Message",
    "MissingExtraError",
    "NotFoundError",
    "RateLimitError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServerError",
    "StreamEvent",
    "StreamInterruptedError",
    "TextDelta",
    "TextPart",
    "Timeouts",
    "ToolCall",
    "ToolCallPart",
    "ToolResultPart",
    "ToolSpec",
    "TransientError",
    "UnsupportedContentError",
    "UnsupportedParameterError",
    "Usage",
    "load_config",
]

# Where each public name is defined. A name is imported on first use (``from shared_core import Gateway`` imports
# the pipeline, its transport and codecs; ``from shared_core import Message`` only the message types), so a
# framework package that needs the types at import time does not pay for the pipeline until it builds one.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "shared_core.config": ("DeploymentConfig", "EndpointConfig", "GatewayConfig", "load_config"),
    "shared_core.costs": ("CallCost", "CostTracker"),
    "shared_core.errors": (
        "AuthenticationError",
        "BadRequestError",
        "ConfigurationError",
        "ConnectionFailedError",
        "ContentFilterError",
        "ContextLengthExceededError",
        "ConversationError",
        "DeploymentNotFoundError",
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
    ),
    "shared_core.events": ("DebugEvent", "EventSink", "ListSink", "LoggingSink"),
    "shared_core.gateway": ("Gateway",),
    "shared_core.messages": (
        "AudioPart",
        "FilePart",
        "ImagePart",
        "Message",
        "TextPart",
        "ToolCallPart",
        "ToolResultPart",
    ),
    "shared_core.request": ("ChatRequest", "GenerationSettings", "ToolSpec"),
    "shared_core.result": ("ChatResult", "StreamEvent", "TextDelta", "Usage"),
    "shared_core.tool_calls": ("ToolCall",),
    "shared_core.transport.health": ("HealthPolicy", "HealthStore", "InMemoryHealthStore"),
    "shared_core.transport.http": ("Timeouts",),
    "shared_core.transport.retry": ("RetryPolicy",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> object:
    """Import a public name from its defining module on first access, then keep it as a module attribute."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'shared_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's attributes and every public name, imported or not."""
    return sorted({*globals(), *__all__})
