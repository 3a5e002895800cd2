"""Three emulated Azure regions for the load run, each an emulator process of its own (``python -m
azure_openai_emulator``) with probabilistic faults, so the client's memory and CPU are the client's alone.

A region can be killed (its connections reset, new ones refused: a regional outage) and started again on the
same port. Each process writes one JSON line per request to its log file (appended across restarts); the run
reads them for the server-side counts: HTTP attempts and the faults that fired.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["KEY", "REGION_NAMES", "Region", "ServerCounts", "fault_flags", "per_rule_probability", "running_regions"]

KEY = "load-run-key"
REGION_NAMES = ("east", "west", "north")
_REPO = Path(__file__).resolve().parents[2]


def per_rule_probability(faults: float, stream_share: float) -> float:
    """The chance each of the four fault rules gets so that ``faults`` of all requests get one.

    Streams face four rules (``cut_stream`` applies to streams only), other requests three.
    """
    low, high = 0.0, 1.0
    for _ in range(60):
        p = (low + high) / 2
        got = (1 - stream_share) * (1 - (1 - p) ** 3) + stream_share * (1 - (1 - p) ** 4)
        low, high = (p, high) if got < faults else (low, p)
    return (low + high) / 2


def fault_flags(probability: float) -> list[str]:
    """``--fault`` flags: 429 with a short Retry-After (ms), 503, connection reset, stream cut after 4 events."""
    if probability <= 0:
        return []
    rules = [
        f"kind=rate_limit,probability={probability},retry_after=0.05,retry_after_header=retry-after-ms",
        f"kind=server_error,status=503,probability={probability}",
        f"kind=reset,probability={probability}",
        f"kind=cut_stream,probability={probability},after=4",
    ]
    return [flag for rule in rules for flag in ("--fault", rule)]


@dataclass
class Region:
    """One emulator process: started, killed, started again on the same port."""

    name: str
    log_path: Path
    faults: list[str]
    seed: int
    port: int = 0
    process: subprocess.Popen[str] | None = None
    restarts: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Start the process (not waiting for it: see :meth:`wait_ready`)."""
        command = [sys.executable, "-m", "azure_openai_emulator", "--port", str(self.port), "--api-key", KEY]
        command += ["--region", self.name, "--seed", str(self.seed + self.restarts), "--log-format", "json"]
        # A budget the run cannot spend: the counted (not enforced) x-ratelimit-remaining-* headers must not
        # report an exhausted region, or quota-aware routing would (rightly) move the traffic off it.
        command += ["--print-endpoint", "--tokens-per-minute", "1000000000", "--requests-per-minute", "1000000"]
        command += self.faults
        log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(command, cwd=_REPO, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the process prints its endpoint (it is then accepting connections)."""
        assert self.process is not None and self.process.stdout is not None
        started = time.monotonic()
        line = self.process.stdout.readline()
        if "AZURE_OPENAI_ENDPOINT=" not in line or time.monotonic() - started > timeout:
            raise RuntimeError(f"region {self.name} did not start: {line!r}")
        self.port = int(line.split("AZURE_OPENAI_ENDPOINT=", 1)[1].split()[0].rsplit(":", 1)[1])

    def kill(self) -> None:
        """A regional outage: the process dies at once; open connections reset, new ones are refused."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def relaunch(self) -> None:
        """Start again on the same port (then :meth:`wait_ready`), with the next seed."""
        self.restarts += 1
        self.launch()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


@dataclass
class ServerCounts:
    """What the emulators saw: HTTP attempts, and the faults that fired (by kind)."""

    requests: int = 0
    faulted: int = 0
    by_fault: Counter[str] = field(default_factory=Counter[str])
    by_region: Counter[str] = field(default_factory=Counter[str])

    @classmethod
    def read(cls, regions: list[Region]) -> ServerCounts:
        counts = cls()
        for region in regions:
            for line in region.log_path.read_text(encoding="utf-8").splitlines():
                if not line.startswith("{"):
                    continue
                entry = json.loads(line)
                if entry.get("outcome") == "token" or "status" not in entry:
                    continue
                counts.requests += 1
                counts.by_region[region.name] += 1
                faults = [str(f) for f in entry.get("faults", [])]
                counts.faulted += bool(faults)
                counts.by_fault.update(faults)
        return counts


@contextmanager
def running_regions(directory: Path, faults: list[str], seed: int) -> Iterator[list[Region]]:
    """The three regions, started in parallel, stopped (or killed) on exit."""
    regions = [Region(name, directory / f"{name}.log", faults, seed + 100 * n) for n, name in enumerate(REGION_NAMES)]
    try:
        for region in regions:
            region.launch()
        for region in regions:
            region.wait_ready()
        yield regions
    finally:
        for region in regions:
            region.stop()
