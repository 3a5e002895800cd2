"""A forked child's cost tracker: usable even when another thread of the parent held its lock at the fork, and
starting from a copy of the parent's totals at that instant."""

from __future__ import annotations

import os
import select
import threading

from shared_core.costs import CallCost, CostTracker

_HANG_SECONDS = 10.0


def _call(amount: float) -> CallCost:
    return CallCost("east/gpt-4o-mini", "gpt-4o-mini", amount, input_tokens=10, output_tokens=5)


def test_a_child_forked_while_a_thread_holds_the_trackers_lock_records_and_reads_its_totals() -> None:
    tracker = CostTracker()
    tracker.record(_call(0.25))  # the parent's totals before the fork: one call
    holding, release = threading.Event(), threading.Event()

    def price_a_call() -> None:  # a thread in the middle of a record() when the process forks
        with tracker._lock:  # pyright: ignore[reportPrivateUsage]
            holding.set()
            release.wait(_HANG_SECONDS)

    holder = threading.Thread(target=price_a_call)
    holder.start()
    assert holding.wait(5), "the thread holds the tracker's lock"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            tracker.record(_call(0.5))
            total = tracker.grand_total()
            by_deployment = tracker.totals_by_deployment()["east/gpt-4o-mini"]
            os.write(write_end, f"{total.calls} {total.amount} {by_deployment.calls}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    answer = ""
    try:
        if select.select([read_end], [], [], _HANG_SECONDS)[0]:
            answer = os.read(read_end, 100).decode()
    finally:
        release.set()
        holder.join(5)
        os.close(read_end)
        if not answer:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    assert answer, "the child hung on a lock held by a thread it does not have"
    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == "2 0.75 2", "the child's totals: the parent's call at the fork plus its own"
    assert tracker.grand_total().calls == 1, "the parent's totals are its own"
