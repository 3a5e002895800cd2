"""The benchmark's workloads: the one-word prompt, and a realistic one (a system and a user message).

The server decides the answer's size (``--chunks``, ``--answer-words``); this module decides what every client
sends. Adapters read the current workload's messages through the functions here, so each client sends the same
conversation in its own types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "SERVED",
    "SYSTEM",
    "USER",
    "WORKLOADS",
    "Workload",
    "core_request",
    "langchain_input",
    "llamaindex_messages",
    "messages",
    "target_for",
    "use_workload",
]

USER = "hi"
SYSTEM: str | None = None
_REALISTIC_SYSTEM = (
    "You are a concise assistant for a travel company. Answer in plain prose, in at most three sentences, "
    "and never invent prices or dates."
)
_REALISTIC_USER = "Which three things should I pack for a week of hiking in Norway in September, and why?"
WORKLOADS: dict[str, tuple[str | None, str]] = {
    "one-word": (None, "hi"),
    "realistic": (_REALISTIC_SYSTEM, _REALISTIC_USER),
}


@dataclass(frozen=True, slots=True)
class Workload:
    """What the server answers for a workload: stream chunks, and the answer's words (0: the short answer)."""

    chunks: int
    answer_words: int


SERVED = {"one-word": Workload(chunks=100, answer_words=0), "realistic": Workload(chunks=200, answer_words=64)}


def use_workload(name: str) -> None:
    """Make ``name`` the conversation every adapter sends from now on."""
    global SYSTEM, USER
    SYSTEM, USER = WORKLOADS[name]


def messages() -> list[dict[str, str]]:
    """The conversation as OpenAI-style role/content dicts."""
    out = [{"role": "system", "content": SYSTEM}] if SYSTEM else []
    return [*out, {"role": "user", "content": USER}]


def langchain_input() -> Any:
    """What ``invoke``/``stream`` get: the bare string for one user message (as before), else role tuples."""
    return USER if not SYSTEM else [("system", SYSTEM), ("human", USER)]


def llamaindex_messages() -> list[Any]:
    """The conversation as LlamaIndex ``ChatMessage`` s."""
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages()]


def core_request() -> Any:
    """The conversation as a ``shared_core.ChatRequest``."""
    from shared_core import ChatRequest, Message

    system = (Message.system(SYSTEM),) if SYSTEM else ()
    return ChatRequest((*system, Message.user(USER)))


def target_for(endpoint: str, workload: str) -> Any:
    """The benchmark target for ``endpoint``, with the bytes the gateway sends for ``workload`` (raw baselines)."""
    from benchmarks.adapter import Target
    from benchmarks.run import API_KEY, API_VERSION
    from shared_core import Gateway

    use_workload(workload)
    gateway = Gateway(endpoint=endpoint, api_key=API_KEY, default_deployment="bench", env={})
    request = core_request()
    body = gateway.prepare(request, stream=False).http_request.body
    stream_body = gateway.prepare(request, stream=True).http_request.body
    return Target(endpoint, API_KEY, API_VERSION, "bench", "held", body, stream_body)
