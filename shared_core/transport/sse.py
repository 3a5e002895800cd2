"""Server-sent events, parsed once and leanly, into ``(event, data)`` records.

Azure's Chat Completions streams send ``data:`` lines only and end with ``data: [DONE]``; its Responses streams
send ``event:`` + ``data:`` pairs and stop after ``response.completed`` with no ``[DONE]`` and, behind some
proxies, without the final blank line. Records are plain frozen dataclasses (plain ``(event, data)`` pairs on
the stream folder's path, :meth:`SSEParser.feed_pairs`): the per-chunk cost of a stream is what users feel, so no
pydantic model and no regular expression is built per line (``str.split`` / ``find``), a read is decoded in one
step when it holds whole characters, and a record that is one ``data:`` line is taken whole.

Rules (the WHATWG event-stream format, minus ``id``/``retry`` which Azure never uses for resumption):
``data:`` lines are joined with ``"\\n"``; ``event:`` names the record; lines starting with ``:`` are comments;
one optional space after the colon is dropped; CRLF, CR and LF all end a line; a blank line ends a record;
a record without any ``data`` line is dropped.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SSEParser", "SSERecord", "iter_sse_lines"]


@dataclass(frozen=True, slots=True)
class SSERecord:
    """One dispatched server-sent event.

    Attributes:
        event: The ``event:`` field (``None`` when the record had none, as on Chat Completions).
        data: The ``data:`` lines joined with ``"\\n"`` (``"[DONE]"`` for Chat Completions' end marker).
    """

    event: str | None
    data: str


def _split_field(line: str) -> tuple[str, str]:
    """Split a non-comment line into (field, value), dropping one space after the colon."""
    colon = line.find(":")
    if colon == -1:
        return line, ""
    value = line[colon + 1 :]
    if value[:1] == " ":
        value = value[1:]
    return line[:colon], value


class SSEParser:
    """Incremental parser: feed chunks as they arrive, get the records they complete.

    Chunk boundaries may fall anywhere: inside a line, between ``\\r`` and ``\\n``, or inside a UTF-8
    sequence (bytes are decoded incrementally).

    Example:
        >>> parser = SSEParser()
        >>> parser.feed(b"event: response.created\\ndata: {}\\n") + parser.feed(b"\\n")
        [SSERecord(event='response.created', data='{}')]
    """

    __slots__ = ("_data", "_decoder", "_event", "_pending", "_skip_lf", "_started", "_undecoded")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []
        self._event: str | None = None
        self._data: list[str] = []
        self._skip_lf = False
        self._started = False
        self._undecoded = False  # the incremental decoder may hold the start of a character

    def feed(self, chunk: bytes | str) -> list[SSERecord]:
        """Parse one chunk of the stream (bytes, or text already decoded).

        Returns:
            The records completed by this chunk, in order (often empty or one).
        """
        return [SSERecord(event, data) for event, data in self.feed_pairs(chunk)]

    def feed_pairs(self, chunk: bytes | str) -> list[tuple[str | None, str]]:
        """:meth:`feed`, each record as a plain ``(event, data)`` pair (the stream folder's per-chunk path)."""
        if isinstance(chunk, bytes):
            if self._undecoded:
                text = self._decoder.decode(chunk)
                self._undecoded = bool(self._decoder.getstate()[0])
            else:
                try:
                    # Whole UTF-8 (the usual read) decodes in one step; a read that ends inside a character, or
                    # invalid bytes, goes through the incremental decoder, which holds or replaces them.
                    text = chunk.decode()
                except UnicodeDecodeError:
                    text = self._decoder.decode(chunk)
                    self._undecoded = bool(self._decoder.getstate()[0])
        else:
            text = chunk
        if not text:
            return []
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf:
            # The previous chunk ended with '\r'; a '\n' opening this one is the rest of that CRLF.
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\n" not in text and "\r" not in text:
            # A long line arriving in many small reads: keep the pieces, join once when the line ends.
            self._pending.append(text)
            return []
        if self._pending:
            self._pending.append(text)
            buffer = "".join(self._pending)
            self._pending = []
        else:
            buffer = text
        if "\r" in buffer:
            self._skip_lf = buffer[-1] == "\r"
            buffer = buffer.replace("\r\n", "\n").replace("\r", "\n")
        if self._data or self._event is not None:
            return self._lines(buffer)
        return self._records(buffer)

    def _records(self, buffer: str) -> list[tuple[str | None, str]]:
        """Parse ``buffer`` (LF line ends only) from a record boundary: each complete record whose only line is
        one ``data:`` line (every Chat Completions record) is taken whole; the rest goes line by line."""
        blocks = buffer.split("\n\n")
        tail = blocks.pop()  # after the last blank line: a record still open, or ""
        out: list[tuple[str | None, str]] = []
        for block in blocks:
            if block.startswith("data:") and "\n" not in block:
                out.append((None, block[6:] if block[5:6] == " " else block[5:]))
            else:
                out += self._take_lines([*block.split("\n"), ""])
        if tail:
            out += self._lines(tail)
        return out

    def _lines(self, buffer: str) -> list[tuple[str | None, str]]:
        lines = buffer.split("\n")
        last = lines.pop()
        if last:
            self._pending.append(last)
        return self._take_lines(lines)

    def close(self) -> list[SSERecord]:
        """End the stream: flush an unterminated last line and record.

        Azure's Responses streams can end right after ``response.completed`` without a blank line; that
        record is returned here rather than dropped (the format says drop it; we are lenient).
        """
        return [SSERecord(event, data) for event, data in self.close_pairs()]

    def close_pairs(self) -> list[tuple[str | None, str]]:
        """:meth:`close`, each record as a plain ``(event, data)`` pair."""
        tail = self._decoder.decode(b"", final=True)
        self._undecoded = False
        rest = "".join(self._pending) + tail
        lines = [rest, ""] if rest else [""]
        self._pending = []
        self._skip_lf = False
        return self._take_lines(lines)

    def _take_lines(self, lines: list[str]) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        data = self._data
        event = self._event
        for line in lines:
            if not line:
                if data:
                    out.append((event, data[0] if len(data) == 1 else "\n".join(data)))
                    data = []
                event = None
            elif line.startswith("data:"):
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line.startswith("event:"):
                event = (line[7:] if line[6:7] == " " else line[6:]) or None
            elif line[0] != ":":
                name, value = _split_field(line)
                if name == "event":
                    event = value or None
                elif name == "data":
                    data.append(value)
        self._data = data
        self._event = event
        return out


def iter_sse_lines(lines: Iterable[str]) -> Iterator[SSERecord]:
    """Parse already-split lines (httpx ``iter_lines``), yielding each record as its blank line arrives.

    Lines may keep their terminator (aiohttp's line reader does); a final record without a blank line is
    still yielded when ``lines`` ends.
    """
    event: str | None = None
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSERecord(event, data[0] if len(data) == 1 else "\n".join(data))
                data = []
            event = None
        elif line.startswith("data:"):
            data.append(line[6:] if line[5:6] == " " else line[5:])
        elif line.startswith("event:"):
            event = (line[7:] if line[6:7] == " " else line[6:]) or None
        elif line[0] != ":":
            name, value = _split_field(line)
            if name == "event":
                event = value or None
            elif name == "data":
                data.append(value)
    if data:
        yield SSERecord(event, data[0] if len(data) == 1 else "\n".join(data))
