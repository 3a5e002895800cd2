"""What the framework packages (``langchain_azure_gateway``, ``llamaindex_azure_gateway``) need beyond the root.

This module is for framework packages, the thin adapters that translate a framework's types to the core's and
back: the stream events they fold into chunks, the message parts and request options they convert, the routing
tables they expose as fields and serialize, the settings table their configuration fields are copied by
(:class:`FrameworkFields`), and the helpers they share. It is stable only within a minor version:
a framework package is released with the core it was built against. Applications should import from
:mod:`shared_core` (or a defining module) instead.

A framework package imports from :mod:`shared_core` and from here, and from no other module of the core
(``tests/test_architecture.py`` enforces it).
"""

from shared_core.config import SETTINGS, FrameworkFields
from shared_core.deployments import ModelProfile, profile_for
from shared_core.extras import require_extra
from shared_core.messages import HostedToolPart, JsonValue, MessagePart, ReasoningPart, Role
from shared_core.model_state import direct_model, same_model_state
from shared_core.repair import REPAIR_EVENT, ToolSequenceRepair, repairs_summary
from shared_core.request import (
    HostedToolSpec,
    NamedToolChoice,
    ReasoningEffort,
    ResponseFormat,
    ToolChoice,
    hosted_tool_choice,
    json_schema_unavailable,
    tool_from_dict,
)
from shared_core.result import (
    AnnotationEvent,
    AudioDelta,
    ChoiceEvent,
    ContentFilterDelta,
    FinishEvent,
    HostedToolEvent,
    PromptFilterEvent,
    ReasoningDelta,
    ReasoningItemEvent,
    RefusalDelta,
    ResponseMetadata,
    TokenLogprob,
    ToolCallDelta,
    UsageEvent,
)
from shared_core.routing_tables import EndpointItem, PriceItem, endpoints_to_json, hide_endpoint_secrets, prices_to_json
from shared_core.tool_calls import parse_tool_arguments

__all__ = [
    "REPAIR_EVENT",
    "SETTINGS",
    "AnnotationEvent",
    "AudioDelta",
    "ChoiceEvent",
    "ContentFilterDelta",
    "EndpointItem",
    "FinishEvent",
    "FrameworkFields",
    "HostedToolEvent",
    "HostedToolPart",
    "HostedToolSpec",
    "JsonValue",
    "MessagePart",
    "ModelProfile",
    "NamedToolChoice",
    "PriceItem",
    "PromptFilterEvent",
    "ReasoningDelta",
    "ReasoningEffort",
    "ReasoningItemEvent",
    "ReasoningPart",
    "RefusalDelta",
    "ResponseFormat",
    "ResponseMetadata",
    "Role",
    "TokenLogprob",
    "ToolCallDelta",
    "ToolChoice",
    "ToolSequenceRepair",
    "UsageEvent",
    "direct_model",
    "endpoints_to_json",
    "hide_endpoint_secrets",
    "hosted_tool_choice",
    "json_schema_unavailable",
    "parse_tool_arguments",
    "prices_to_json",
    "profile_for",
    "repairs_summary",
    "require_extra",
    "same_model_state",
    "tool_from_dict",
]
