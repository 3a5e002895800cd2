"""What each worker process runs: calls with prompts unique to the worker, checked against the echoed answers.

Top-level functions only, so that ``multiprocessing`` can send them to forkserver and spawn workers.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass

from shared_core import ChatRequest, Gateway, GatewayError, Message, TextDelta, load_config

KEY = "process-key"
DEPLOYMENT = "gpt-4o-mini"

_INHERITED: list[Gateway] = []


@dataclass(frozen=True, slots=True)
class Tally:
    """What one worker saw."""

    worker: int
    ok: int = 0
    crossed: int = 0
    errors: int = 0
    first_problem: str = ""


def gateway_for(endpoint: str) -> Gateway:
    """A gateway on the emulator, from kwargs only; no retries, so that an error shows."""
    config = load_config(env={}, endpoint=endpoint, api_key=KEY, default_deployment=DEPLOYMENT, max_retries=0)
    return Gateway(config)


def inherit(gateway: Gateway) -> None:
    """Keep ``gateway`` where forked children find it (a model built in the parent before the fork)."""
    _INHERITED[:] = [gateway]


def _ask(gateway: Gateway, prompt: str, stream: bool) -> str:
    request = ChatRequest(messages=(Message.user(prompt),))
    if not stream:
        return gateway.complete(request).text
    return "".join(event.text for event in gateway.stream(request) if isinstance(event, TextDelta))


def calls(gateway: Gateway, worker: int, count: int) -> Tally:
    """``count`` calls (every third one streamed, never the last of three), each with a prompt unique to it."""
    ok = crossed = errors = 0
    problem = ""
    for n in range(count):
        prompt = f"worker {worker} call {n} token {worker * 100_003 + n}"
        try:
            answer = _ask(gateway, prompt, stream=n % 3 == 1)
        except GatewayError as error:
            errors += 1
            problem = problem or f"{type(error).__name__}: {error.message[:200]}"
            continue
        if prompt in answer:
            ok += 1
        else:
            crossed += 1
            problem = problem or f"asked {prompt!r}, got {answer[:120]!r}"
    return Tally(worker, ok, crossed, errors, problem)


def with_inherited(worker: int, count: int) -> Tally:
    """In a forked child: use the gateway the parent built (and used) before the fork."""
    assert _INHERITED, "inherit() was not called in the parent"
    return calls(_INHERITED[0], worker, count)


def with_fresh(endpoint: str, worker: int, count: int) -> Tally:
    """Build a gateway in the worker (it still shares the module-level pool with the parent after a fork)."""
    return calls(gateway_for(endpoint), worker, count)


def with_pickled_model(model: bytes, worker: int, count: int) -> Tally:
    """Unpickle a LangChain or LlamaIndex model built (and used) in the parent, and call it."""
    chat = pickle.loads(model)
    if not hasattr(chat, "invoke"):  # LlamaIndex
        return _tally(worker, count, lambda prompt: chat.complete(prompt).text)
    return _tally(worker, count, lambda prompt: str(chat.invoke(prompt).content))


def _tally(worker: int, count: int, ask: Callable[[str], str]) -> Tally:
    ok = crossed = errors = 0
    problem = ""
    for n in range(count):
        prompt = f"pickled worker {worker} call {n}"
        try:
            answer = ask(prompt)
        except Exception as error:
            errors += 1
            problem = problem or f"{type(error).__name__}: {error}"[:200]
            continue
        ok, crossed = (ok + 1, crossed) if prompt in answer else (ok, crossed + 1)
    return Tally(worker, ok, crossed, errors, problem)
