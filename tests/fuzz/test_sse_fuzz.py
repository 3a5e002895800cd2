"""SSE parsing over arbitrary bytes and over generated streams with random framing.

Properties: the parser never raises; where chunk boundaries fall never changes the records; a stream built
from known records (CR, LF or CRLF endings, comments, ``id``/``retry``/unknown fields, multi-line data, a BOM,
event-only records, a missing final blank line) parses back to exactly those records, whole, in pieces, and
through :func:`iter_sse_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from shared_core.transport.sse import SSEParser, SSERecord, iter_sse_lines

_EOLS = ("\n", "\r", "\r\n")
_line_text = st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), max_size=12)
_field_name = _line_text.filter(lambda n: n not in {"data", "event"} and ":" not in n and n != "")


def feed_in_pieces(stream: bytes | str, cuts: list[int]) -> list[SSERecord]:
    """Feed ``stream`` split at ``cuts`` (any positions, inside UTF-8 sequences too), then close."""
    parser = SSEParser()
    records: list[SSERecord] = []
    start = 0
    for cut in sorted({c % (len(stream) + 1) for c in cuts}):
        records += parser.feed(stream[start:cut])
        start = cut
    records += parser.feed(stream[start:])
    return records + parser.close()


@given(st.binary(max_size=600), st.lists(st.integers(min_value=0, max_value=600), max_size=20))
def test_sse_parser_arbitrary_bytes_records_independent_of_chunking(stream: bytes, cuts: list[int]) -> None:
    whole = feed_in_pieces(stream, [])
    assert all(isinstance(r, SSERecord) and isinstance(r.data, str) for r in whole)
    assert all(r.event is None or (isinstance(r.event, str) and r.event) for r in whole)
    assert feed_in_pieces(stream, cuts) == whole
    assert feed_in_pieces(stream, list(range(len(stream)))) == whole


@given(
    st.text(st.sampled_from("da:t ev\r\n\ufeff\xe9x"), max_size=80),
    st.lists(st.integers(min_value=0, max_value=80), max_size=10),
)
def test_sse_parser_field_syntax_soup_independent_of_chunking(text: str, cuts: list[int]) -> None:
    whole = feed_in_pieces(text.encode(), [])
    assert feed_in_pieces(text.encode(), cuts) == whole
    assert feed_in_pieces(text, cuts) == whole


@dataclass(frozen=True)
class _Generated:
    """A generated stream and the records it must parse to."""

    lines: list[str]
    eols: list[str]
    expected: list[SSERecord]
    bom: bool
    final_blank: bool

    def text(self) -> str:
        out = ["\ufeff" if self.bom else ""]
        previous = ""
        for line, drawn in zip(self.lines, self.eols, strict=True):
            # After a lone CR, an LF would merge with it into one CRLF line ending (the format cannot tell).
            eol = "\r\n" if previous == "\r" and line == "" and drawn == "\n" else drawn
            out += [line, eol]
            previous = eol
        return "".join(out)


@st.composite
def _noise_line(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["comment", "id", "retry", "unknown", "bare"]))
    if kind == "comment":
        return ":" + draw(_line_text)
    if kind == "id":
        return "id: " + draw(_line_text)
    if kind == "retry":
        return f"retry: {draw(st.integers(min_value=0, max_value=10**6))}"
    if kind == "unknown":
        return draw(_field_name) + ":" + draw(_line_text)
    return draw(_field_name)


@st.composite
def _record_lines(draw: st.DrawFn) -> tuple[list[str], SSERecord | None]:
    lines: list[str] = []
    event: str | None = None
    data: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["data", "data", "event", "noise"]))
        if kind == "noise":
            lines.append(draw(_noise_line()))
            continue
        value = draw(_line_text)
        spaced = value.startswith(" ") or draw(st.booleans())
        lines.append(f"{kind}:{' ' if spaced else ''}{value}")
        if kind == "data":
            data.append(value)
        else:
            event = value or None
    return lines, SSERecord(event, "\n".join(data)) if data else None


@st.composite
def _generated_streams(draw: st.DrawFn) -> _Generated:
    lines: list[str] = []
    expected: list[SSERecord] = []
    records = draw(st.lists(_record_lines(), max_size=6))
    final_blank = True
    for i, (record_lines, record) in enumerate(records):
        lines += record_lines
        last = i == len(records) - 1
        final_blank = not last or draw(st.booleans())
        if final_blank:
            lines.append("")
        if record is not None:
            expected.append(record)
    eols = [draw(st.sampled_from(_EOLS)) for _ in lines]
    return _Generated(lines, eols, expected, draw(st.booleans()), not records or final_blank)


@given(_generated_streams(), st.lists(st.integers(min_value=0, max_value=10**4), max_size=12), st.booleans())
def test_sse_parser_generated_stream_recovers_records(gen: _Generated, cuts: list[int], keep_eol: bool) -> None:
    text = gen.text()
    assert feed_in_pieces(text.encode(), []) == gen.expected
    assert feed_in_pieces(text.encode(), cuts) == gen.expected
    assert feed_in_pieces(text, cuts) == gen.expected
    # iter_sse_lines gets lines as a client splits them (on CR, LF and CRLF only), with or without their
    # terminators; the BOM is the client's to strip.
    lines = [line + (eol if keep_eol else "") for line, eol in zip(gen.lines, gen.eols, strict=True)]
    assert list(iter_sse_lines(lines)) == gen.expected
