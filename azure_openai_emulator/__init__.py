"""An Azure OpenAI emulator on loopback, for testing chains and apps without Azure (extra: ``[emulator]``).

It answers the classic route (``/openai/deployments/{d}/chat/completions?api-version=…``), the GA v1 routes
(``/openai/v1/chat/completions``, ``/openai/v1/responses``) and the preview Responses route
(``/openai/responses?api-version=…``) in the exact shapes real Azure sends (headers, key order, stream chunks,
error bodies; checked against recorded traffic), streaming or not. Optionally it also serves a
managed-identity token endpoint (App Service style) and accepts its tokens.

Answers come from, in order: a script of outcomes a test queues; the deployment's model rules (reasoning
models reject ``temperature``); a small deterministic responder (echoes the question, calls a provided tool
when asked, fills a ``json_schema``, quotes tool results) passed through fault rules (429 + Retry-After,
5xx, cut streams, latency, content filter), per deployment, with a probability or every N-th request.

From a shell (see ``docs/emulator.md``)::

    python -m azure_openai_emulator --port 0 --print-endpoint --deployment gpt-4o-mini=gpt-4o-mini-2024-07-18
    # prints: export AZURE_OPENAI_ENDPOINT=http://127.0.0.1:PORT ... AZURE_OPENAI_API_KEY=test-key

In a test::

    from azure_openai_emulator import AzureEmulator, FaultRule, HttpError, Reply

    with AzureEmulator(api_key="k", faults=[FaultRule("rate_limit", every=2)]) as emulator:
        emulator.script(HttpError(503), Reply("Hello!"))
        ... point the client at emulator.endpoint (or os.environ.update(emulator.env())) ...
        assert emulator.request_count == 2

It is its own top-level package, shipped in the same distribution as the gateway: :mod:`shared_core` never
imports it, and it uses only ``shared_core.messages`` (JSON types) and ``shared_core.extras`` (the missing-extra
error) from the core, so it cannot share the client code it stands in for.
"""

from shared_core.extras import require_extra as _require_extra

_require_extra("aiohttp", feature="the Azure OpenAI emulator", extra="emulator", package="aiohttp")

# The imports below come after the extra check, which names what to install (hence E402).
from azure_openai_emulator.completion import DeploymentInfo, FilterVerdict, ToolCall, Usage  # noqa: E402
from azure_openai_emulator.faults import (  # noqa: E402
    FaultKind,
    FaultPlan,
    FaultRule,
    FaultSpecError,
    load_faults,
    parse_fault,
)
from azure_openai_emulator.identity import IDENTITY_PATH, ManagedIdentity, TokenIssuer  # noqa: E402
from azure_openai_emulator.responder import PromptView, decide_answer, deterministic_responder, read_prompt  # noqa: E402
from azure_openai_emulator.schema_example import schema_instance  # noqa: E402
from azure_openai_emulator.script import (  # noqa: E402
    BadGateway,
    ConnectionReset,
    HttpError,
    Outcome,
    PromptFiltered,
    RecordedRequest,
    Reply,
    Responder,
    Unparsable,
    as_responder,
)
from azure_openai_emulator.server import AzureEmulator  # noqa: E402

__all__ = [
    "IDENTITY_PATH",
    "AzureEmulator",
    "BadGateway",
    "ConnectionReset",
    "DeploymentInfo",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "FaultSpecError",
    "FilterVerdict",
    "HttpError",
    "ManagedIdentity",
    "Outcome",
    "PromptFiltered",
    "PromptView",
    "RecordedRequest",
    "Reply",
    "Responder",
    "TokenIssuer",
    "ToolCall",
    "Unparsable",
    "Usage",
    "as_responder",
    "decide_answer",
    "deterministic_responder",
    "load_faults",
    "parse_fault",
    "read_prompt",
    "schema_instance",
]
