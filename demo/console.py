"""What the demo prints: section headers, streamed text as it arrives, and the gateway's routing events."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from shared_core import DebugEvent

__all__ = ["INDENT", "EventPrinter", "StreamStats", "heading", "say", "shorten", "stream_text"]

INDENT = "   "


def say(text: str = "", *, out: TextIO | None = None) -> None:
    """Print one indented line (flushed, so it interleaves with streamed text in order)."""
    print(f"{INDENT}{text}" if text else "", file=out or sys.stdout, flush=True)


def heading(number: int, title: str, *, out: TextIO | None = None) -> None:
    """Print a numbered section header."""
    print(f"\n{number}. {title}", file=out or sys.stdout, flush=True)


def shorten(text: str, limit: int = 110) -> str:
    """One line of at most ``limit`` characters (newlines shown as spaces)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@dataclass(slots=True)
class StreamStats:
    """What a stream delivered: how many non-empty pieces, and the whole text."""

    chunks: int = 0
    text: str = ""


def stream_text(pieces: Iterable[str], *, limit: int = 200, out: TextIO | None = None) -> StreamStats:
    """Print text pieces on one line as they arrive, stopping the echo (not the stream) after ``limit`` chars.

    The emulator answers by quoting the prompt, which for a query engine is the whole retrieved context; the
    cut keeps the output readable while every piece is still consumed and counted.
    """
    stream = out or sys.stdout
    stats = StreamStats()
    shown = 0
    for piece in pieces:
        if not piece:
            continue
        if stats.chunks == 0:
            # The prefix waits for the first text, so routing events printed before it stay on their own lines.
            stream.write(f"{INDENT}> ")
        stats.chunks += 1
        stats.text += piece
        if shown < limit:
            visible = " ".join(piece.splitlines()) if "\n" in piece else piece
            visible = visible[: limit - shown]
            shown += len(visible)
            stream.write(visible)
            if shown >= limit:
                stream.write(" ...")
            stream.flush()
    stream.write(f"{INDENT}(no text)\n" if stats.chunks == 0 else "\n")
    stream.flush()
    return stats


class EventPrinter:
    """An ``EventSink`` that prints the routing events worth seeing (failed attempts, failovers), as they happen.

    Every other event (per-call summaries, repairs, outcomes) is ignored here: repairs are reported from the
    framework's own result, and the summaries would repeat what the steps print.
    """

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self.failovers = 0
        self.failed_attempts = 0

    def emit(self, event: DebugEvent) -> None:
        """Print a failed attempt (with what the router decided) or a failover; never raises."""
        data = event.data
        if event.name == "provider:attempt_failed":
            self.failed_attempts += 1
            wait = data.get("retry_after")
            asked = f", Retry-After {wait:g} s" if isinstance(wait, int | float) else ""
            status = f"HTTP {data.get('status')}" if data.get("status") is not None else "no answer"
            say(f"{data.get('key')}: {data.get('error')} ({status}{asked}) -> {data.get('decision')}", out=self._out)
        elif event.name == "provider:failover":
            self.failovers += 1
            how = "at once, no wait (Azure did no work)" if data.get("free") else "once (Azure may have done the work)"
            say(f"failover: {data.get('from')} -> {data.get('to')}, {how}", out=self._out)
        elif event.name == "provider:retry":
            say(f"waiting {data.get('delay')} s for {data.get('key')}: {data.get('reason')}", out=self._out)
