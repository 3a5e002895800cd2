"""Import time of the gateway's packages against their floors: ``python -m benchmarks.imports [--runs N] [--json F]``.

Each module is imported in a fresh interpreter (``python -c "import X"``) and the bare start-up
(``python -c "pass"``) is subtracted. Runs are interleaved (one of each module per round), so a slow spell on the
machine hits every module alike. Bytecode is cached as in any installed package: the interpreters run with
``PYTHONPYCACHEPREFIX`` set to a private directory and without ``PYTHONDONTWRITEBYTECODE``, and every module is
imported once before timing, so no module is timed while it compiles its sources (a development checkout under
``PYTHONDONTWRITEBYTECODE=1`` compiles ours on every run and not the installed frameworks, about 100 ms here).

The margins are the issue's figures: ``import langchain_azure_gateway`` over
``import langchain_core.language_models.chat_models``, and ``import llamaindex_azure_gateway`` over
``import llama_index.core.llms.function_calling`` (target: at most 100 ms each, DESIGN.md §3). Each package
module imports its model class (``AzureGatewayChatModel``, ``AzureGatewayLLM``), so ``import X`` costs what
``from X import <the class>`` costs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "IMPORTS",
    "MARGINS",
    "Margin",
    "import_instructions",
    "import_margins",
    "import_times",
    "instruction_margins",
    "main",
    "render_imports",
    "render_instructions",
]

ROOT = Path(__file__).resolve().parent.parent

IMPORTS: tuple[tuple[str, str], ...] = (
    ("httpx", "httpx"),
    ("shared_core", "shared_core"),
    ("openai", "openai"),
    ("langchain_openai", "langchain_openai"),
    ("llama-index AzureOpenAI", "llama_index.llms.azure_openai"),
    ("langchain_core chat model (floor)", "langchain_core.language_models.chat_models"),
    ("langchain_azure_gateway", "langchain_azure_gateway"),
    ("llama_index.core FunctionCallingLLM (floor)", "llama_index.core.llms.function_calling"),
    ("llamaindex_azure_gateway", "llamaindex_azure_gateway"),
)
"""(label, module) pairs timed as ``python -c "import <module>"`` minus a bare interpreter start."""


@dataclasses.dataclass(frozen=True, slots=True)
class Margin:
    """One package's import measured against its framework's floor."""

    package: str
    floor: str
    target_ms: float


MARGINS: tuple[Margin, ...] = (
    Margin("langchain_azure_gateway", "langchain_core.language_models.chat_models", 100.0),
    Margin("llamaindex_azure_gateway", "llama_index.core.llms.function_calling", 100.0),
)
FRAMEWORK_IMPORTS: tuple[str, ...] = tuple(m for margin in MARGINS for m in (margin.floor, margin.package))
"""The modules ``--imports-only`` and ``python -m benchmarks.imports`` time by default: the margins' pairs."""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    tag = f"{sys.implementation.cache_tag}-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / f"azure-gateway-bench-pycache-{tag}")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _interpreter_seconds(code: str, env: Mapping[str, str], tree: Path = ROOT) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one ``python -c code`` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _split(spec: str) -> tuple[str, Path]:
    """``module`` or ``module@DIR``: the module as imported with DIR first on the path (another tree's packages)."""
    module, _, tree = spec.partition("@")
    return module, Path(tree) if tree else ROOT


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


Sample = tuple[float, float]  # (wall, CPU) seconds


def _timed_runs(modules: Sequence[str], runs: int) -> tuple[list[Sample], dict[str, list[Sample] | str]]:
    """(wall, CPU) per run of a bare start and of each module, interleaved; a failing module becomes its error."""
    env = _environment()
    seconds: dict[str, list[Sample] | str] = {m: [] if _installed(_split(m)[0]) else "not installed" for m in modules}
    for spec in list(seconds):  # warm the bytecode cache: nothing timed below compiles a source file
        if isinstance(seconds[spec], list):
            try:
                _interpreter_seconds(f"import {_split(spec)[0]}", env, _split(spec)[1])
            except subprocess.CalledProcessError as exc:
                seconds[spec] = "error: " + exc.stderr.decode(errors="replace").strip().splitlines()[-1][:200]
    _interpreter_seconds("pass", env)
    bare: list[Sample] = []
    for _ in range(runs):
        bare.append(_interpreter_seconds("pass", env))
        for spec, so_far in seconds.items():
            if isinstance(so_far, list):
                module, tree = _split(spec)
                so_far.append(_interpreter_seconds(f"import {module}", env, tree))
    bare += [_interpreter_seconds("pass", env) for _ in range(3 - len(bare))]
    return bare, seconds


def import_times(modules: Sequence[str], runs: int) -> dict[str, dict[str, Any] | str]:
    """Milliseconds to import each module in a fresh interpreter, bare start-up subtracted.

    Per module: ``median`` and ``min`` of the CPU time (user + system) of ``runs`` runs, ``runs_ms`` (each run's
    CPU time) and ``wall_median``. CPU time, because on a shared machine the wall clock also counts the time the
    interpreter waited for a CPU; the minimum, because importing is fixed work that outside load can only slow
    down, so the least disturbed run is the closest to the truth.
    """
    bare, samples = _timed_runs(modules, runs)
    bare_cpu = [cpu for _, cpu in bare]
    bare_median, bare_min = statistics.median(bare_cpu), min(bare_cpu)
    bare_wall = statistics.median(wall for wall, _ in bare)
    out: dict[str, dict[str, Any] | str] = {}
    for module, runs_s in samples.items():
        if isinstance(runs_s, str):
            out[module] = runs_s
            continue
        cpu = [c for _, c in runs_s]
        out[module] = {
            "median": (statistics.median(cpu) - bare_median) * 1e3,
            "min": (min(cpu) - bare_min) * 1e3,
            "runs_ms": [(c - bare_median) * 1e3 for c in cpu],
            "wall_median": (statistics.median(w for w, _ in runs_s) - bare_wall) * 1e3,
        }
    return out


def import_instructions(modules: Sequence[str]) -> dict[str, int | str]:
    """Instructions each import executes (``python -c "import X"`` minus ``python -c "pass"``), counted by
    callgrind once per module (bytecode cached first): deterministic to a fraction of a percent, where CPU time on
    a shared machine moves by 10% between runs. About 10 s of CPU per second of import."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return dict.fromkeys(modules, "valgrind not installed")
    env = _environment()

    def count(code: str, tree: Path) -> int:
        subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, capture_output=True, env=env)
        command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code]
        done = subprocess.run(command, cwd=tree, check=True, capture_output=True, text=True, env=env)
        match = re.search(r"Collected : (\d+)", done.stderr)
        if match is None:
            raise RuntimeError(f"callgrind printed no count for {code!r}: {done.stderr[-300:]}")
        return int(match.group(1))

    bare = count("pass", ROOT)
    out: dict[str, int | str] = {}
    for spec in modules:
        module, tree = _split(spec)
        out[spec] = count(f"import {module}", tree) - bare if _installed(module) else "not installed"
    return out


def instruction_margins(counts: Mapping[str, int | str]) -> dict[str, dict[str, Any]]:
    """Each package's import over its floor's in instructions, and as a fraction of the floor's."""
    out: dict[str, dict[str, Any]] = {}
    trees = sorted({spec.partition("@")[2] for spec in counts})
    for margin, tree in [(m, t) for m in MARGINS for t in trees]:
        suffix = f"@{tree}" if tree else ""
        package, floor = counts.get(margin.package + suffix), counts.get(margin.floor + suffix)
        if isinstance(package, int) and isinstance(floor, int):
            out[margin.package + suffix] = {"floor": margin.floor + suffix, "over": package - floor}
            out[margin.package + suffix]["fraction"] = (package - floor) / floor
    return out


def import_margins(times: Mapping[str, Any], margins: Sequence[Margin] = MARGINS) -> dict[str, dict[str, Any]]:
    """Each package's import over its floor's, in ms: the median of the runs' differences (runs are interleaved,
    so each difference is taken in the same spell of load), on which the target is judged, and the difference of
    the minimums (on a quiet machine the least disturbed runs; on a shared one a single lucky run of either side
    moves it by as much as the margin itself)."""
    out: dict[str, dict[str, Any]] = {}
    trees = sorted({spec.partition("@")[2] for spec in times})
    for margin, tree in [(m, t) for m in margins for t in trees]:
        suffix = f"@{tree}" if tree else ""
        package, floor = times.get(margin.package + suffix), times.get(margin.floor + suffix)
        if not isinstance(package, dict) or not isinstance(floor, dict):
            continue
        paired = [p - f for p, f in zip(package["runs_ms"], floor["runs_ms"], strict=True)]
        over_min = package["min"] - floor["min"]
        out[margin.package + suffix] = {
            "floor": margin.floor + suffix,
            "median_ms": statistics.median(paired),
            "min_ms": over_min,
            "target_ms": margin.target_ms,
            "pass": statistics.median(paired) <= margin.target_ms,
        }
    return out


def render_imports(times: Mapping[str, Any], margins: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown lines: the import table, then the margins over the floors."""
    lines = [
        "",
        "| import (fresh interpreter, bare start-up subtracted) | CPU median ms | CPU min ms | wall median ms |",
        "|---|--:|--:|--:|",
    ]
    for module, ms in times.items():
        if isinstance(ms, dict):
            wall = f"{ms['wall_median']:,.0f}" if "wall_median" in ms else ""
            lines.append(f"| `{module}` | {ms['median']:,.0f} | {ms['min']:,.0f} | {wall} |")
        else:
            lines.append(f"| `{module}` | {ms} | | |")
    if margins:
        lines += ["", "| import over its floor (CPU) | floor | median ms over | min ms over | target | result |"]
        lines.append("|---|---|--:|--:|--:|---|")
        for package, row in margins.items():
            verdict = "pass" if row["pass"] else "**FAIL**"
            lines.append(
                f"| `{package}` | `{row['floor']}` | {row['median_ms']:,.0f} | {row['min_ms']:,.0f} "
                f"| ≤ {row['target_ms']:.0f} | {verdict} |"
            )
    return lines


def render_instructions(counts: Mapping[str, int | str]) -> list[str]:
    """Markdown lines: instructions per import, then each package's over its floor."""
    lines = ["| import (bare start-up subtracted) | instructions |", "|---|--:|"]
    lines += [f"| `{m}` | {n:,} |" if isinstance(n, int) else f"| `{m}` | {n} |" for m, n in counts.items()]
    lines += ["", "| import over its floor | floor | instructions over | over / floor |", "|---|---|--:|--:|"]
    for package, row in instruction_margins(counts).items():
        lines.append(f"| `{package}` | `{row['floor']}` | {row['over']:,} | {row['fraction']:.1%} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: time the imports (the margins' pairs by default) and print the tables.

    ``--also DIR`` times the same modules from DIR too (``git archive main shared_core langchain_azure_gateway
    llamaindex_azure_gateway | tar -x -C DIR``), in the same rounds, so before and after share the machine's spells.
    """
    parser = argparse.ArgumentParser(description="Import time of the gateway's packages against their floors.")
    parser.add_argument("--runs", type=int, default=7, help="interleaved runs per module (default 7)")
    parser.add_argument("--all", action="store_true", help="also time httpx, shared_core, openai and the anchors")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also time the same modules from another tree's packages (a 'before' copy), interleaved",
    )
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind instead of timing (slow)"
    )
    args = parser.parse_args(argv)
    modules = [m for _, m in IMPORTS] if args.all else list(FRAMEWORK_IMPORTS)
    modules += [f"{m}@{tree.resolve()}" for tree in args.also for m in modules]
    if args.instructions:
        counts = import_instructions(modules)
        print("\n".join(render_instructions(counts)))
        figures: dict[str, Any] = {"import_instructions": counts}
    else:
        times = import_times(modules, args.runs)
        figures = {"imports_ms": times, "import_margins_ms": import_margins(times)}
        print("\n".join(render_imports(times, figures["import_margins_ms"])).strip())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
