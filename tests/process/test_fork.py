"""Fork safety (issue 12 item 1): workers forked from a process that already called get their own answers.

Before the fix, the shared pool's keep-alive sockets went to every forked child: 16-19 of 24 calls got another
worker's completion, other runs sent interleaved bytes (HTTP 400) or hung. Each worker here sends prompts no
other call sends and checks that the echo is its own; a hang shows as a worker that never reports back.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import time
from collections.abc import Callable

import pytest
from pytest_socket import socket_allow_hosts

from tests.process import workers
from tests.process.workers import Tally

WORKERS = 8
CALLS = 50
_HANG_SECONDS = 60.0


def _fork_all(run: Callable[[int], Tally], count: int) -> list[Tally]:
    """Fork ``count`` children running ``run(worker)``; each reports its tally through a pipe."""
    children: list[tuple[int, int]] = []
    for worker in range(count):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read_end)
            code = 0
            try:
                tally = run(worker)
                os.write(write_end, pickle.dumps(tally))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, read_end))
    tallies: list[Tally] = []
    give_up = time.monotonic() + _HANG_SECONDS
    for pid, read_end in children:
        data = b""
        while chunk := _read_until(read_end, give_up):
            data += chunk
        os.close(read_end)
        if time.monotonic() >= give_up:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert data, f"a worker (pid {pid}) hung or died without reporting"
        tallies.append(pickle.loads(data))
    return tallies


def _read_until(fd: int, give_up: float) -> bytes:
    import select

    left = give_up - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        return b""
    return os.read(fd, 65536)


def _assert_own_answers(tallies: list[Tally], expected: int) -> None:
    crossed = sum(t.crossed for t in tallies)
    errors = sum(t.errors for t in tallies)
    problems = [t.first_problem for t in tallies if t.first_problem]
    assert (crossed, errors) == (0, 0), f"{crossed} crossed answers, {errors} errors; first: {problems[:3]}"
    assert sum(t.ok for t in tallies) == expected


def test_fork_workers_of_a_parent_that_called_get_their_own_answers(endpoint: str) -> None:
    gateway = workers.gateway_for(endpoint)
    workers.inherit(gateway)
    assert workers.calls(gateway, worker=999, count=3).ok == 3, "the parent calls first, filling the pool"
    tallies = _fork_all(lambda worker: workers.with_inherited(worker, CALLS), WORKERS)
    _assert_own_answers(tallies, WORKERS * CALLS)
    # The parent's own connections are untouched by what the children did.
    assert workers.calls(gateway, worker=998, count=5).ok == 5


def test_fork_workers_building_their_own_model_get_their_own_answers(endpoint: str) -> None:
    parent = workers.gateway_for(endpoint)
    assert workers.calls(parent, worker=997, count=3).ok == 3
    tallies = _fork_all(lambda worker: workers.with_fresh(endpoint, worker, CALLS), WORKERS)
    _assert_own_answers(tallies, WORKERS * CALLS)


@pytest.fixture
def unix_sockets_too() -> None:
    """Loopback plus Unix sockets: the forkserver talks to its server over one (still nothing off the host)."""
    socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
@pytest.mark.usefixtures("unix_sockets_too")
def test_multiprocessing_pool_workers_get_their_own_answers(endpoint: str, method: str) -> None:
    parent = workers.gateway_for(endpoint)
    workers.inherit(parent)
    assert workers.calls(parent, worker=996, count=3).ok == 3
    context = multiprocessing.get_context(method)
    jobs = [(endpoint, worker, 25) for worker in range(4)]
    with context.Pool(4) as pool:
        tallies = pool.starmap_async(workers.with_fresh, jobs).get(timeout=_HANG_SECONDS)
    _assert_own_answers(tallies, 4 * 25)


def test_a_langchain_model_used_in_the_parent_is_pickled_to_spawn_workers(endpoint: str) -> None:
    from langchain_azure_gateway import AzureGatewayChatModel

    model = AzureGatewayChatModel(
        azure_endpoint=endpoint, api_key=workers.KEY, azure_deployment=workers.DEPLOYMENT, max_retries=0
    )
    assert "from the parent" in str(model.invoke("from the parent").content)
    pickled = pickle.dumps(model)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        tallies = pool.starmap_async(workers.with_pickled_model, [(pickled, w, 10) for w in range(2)]).get(
            timeout=_HANG_SECONDS
        )
    _assert_own_answers(tallies, 2 * 10)


def test_a_llamaindex_model_used_in_the_parent_is_pickled_to_spawn_workers(endpoint: str) -> None:
    from llamaindex_azure_gateway import AzureGatewayLLM

    llm = AzureGatewayLLM(azure_endpoint=endpoint, api_key=workers.KEY, engine=workers.DEPLOYMENT, max_retries=0)
    assert "from the parent" in llm.complete("from the parent").text
    pickled = pickle.dumps(llm)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        tallies = pool.starmap_async(workers.with_pickled_model, [(pickled, w, 10) for w in range(2)]).get(
            timeout=_HANG_SECONDS
        )
    _assert_own_answers(tallies, 2 * 10)
