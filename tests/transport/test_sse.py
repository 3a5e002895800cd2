"""Tests for the server-sent event parser: format rules, chunk boundaries anywhere, and real Azure streams."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.transport.sse import SSEParser, SSERecord, iter_sse_lines
from tests.support.recordings import Interaction, azure_interactions


def parse_whole(stream: bytes | str) -> list[SSERecord]:
    parser = SSEParser()
    return parser.feed(stream) + parser.close()


def parse_in_pieces(stream: bytes, cuts: list[int]) -> list[SSERecord]:
    parser = SSEParser()
    out: list[SSERecord] = []
    start = 0
    for cut in sorted(cuts):
        out += parser.feed(stream[start:cut])
        start = cut
    out += parser.feed(stream[start:])
    return out + parser.close()


@cache
def streamed_recordings() -> tuple[Interaction, ...]:
    return tuple(i for i in azure_interactions() if i.is_stream and i.status == 200 and not i.hand_edited)


def test_sse_parser_single_data_line_is_one_record() -> None:
    assert parse_whole(b'data: {"a":1}\n\n') == [SSERecord(None, '{"a":1}')]


def test_sse_parser_data_lines_joined_with_newline() -> None:
    assert parse_whole(b"data: one\ndata: two\ndata:\n\n") == [SSERecord(None, "one\ntwo\n")]


def test_sse_parser_event_field_names_record() -> None:
    stream = b'event: response.created\ndata: {"type":"response.created"}\n\n'
    assert parse_whole(stream) == [SSERecord("response.created", '{"type":"response.created"}')]


def test_sse_parser_event_resets_after_each_record() -> None:
    assert parse_whole(b"event: a\ndata: 1\n\ndata: 2\n\n") == [SSERecord("a", "1"), SSERecord(None, "2")]


def test_sse_parser_comments_ignored() -> None:
    assert parse_whole(b": keep-alive\ndata: x\n: another\n\n") == [SSERecord(None, "x")]


def test_sse_parser_id_and_retry_ignored() -> None:
    assert parse_whole(b"id: 7\nretry: 1000\ndata: x\nunknown: y\n\n") == [SSERecord(None, "x")]


def test_sse_parser_record_without_data_dropped() -> None:
    assert parse_whole(b"event: ping\n\n: only a comment\n\nid: 3\n\n") == []


def test_sse_parser_record_with_empty_data_kept() -> None:
    assert parse_whole(b"data\n\ndata:\n\n") == [SSERecord(None, ""), SSERecord(None, "")]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_sse_parser_line_endings_equivalent(eol: str) -> None:
    stream = eol.join(["event: e", "data: 1", "data: 2", "", "data: 3", "", ""]).encode()
    assert parse_whole(stream) == [SSERecord("e", "1\n2"), SSERecord(None, "3")]


def test_sse_parser_only_one_space_after_colon_dropped() -> None:
    assert parse_whole(b"data:x\n\ndata:  y\n\nevent:  z\ndata: w\n\n") == [
        SSERecord(None, "x"),
        SSERecord(None, " y"),
        SSERecord(" z", "w"),
    ]


def test_sse_parser_value_may_contain_colons() -> None:
    assert parse_whole(b'data: {"url":"https://x"}\n\n') == [SSERecord(None, '{"url":"https://x"}')]


def test_sse_parser_crlf_split_across_chunks_is_one_line_end() -> None:
    parser = SSEParser()
    records = parser.feed(b"data: a\r") + parser.feed(b"\ndata: b\r\n\r\n")
    assert records == [SSERecord(None, "a\nb")]


def test_sse_parser_cr_at_chunk_end_followed_by_blank_line_dispatches() -> None:
    parser = SSEParser()
    first = parser.feed(b"data: a\r")
    assert first == []
    assert parser.feed(b"\r") == [SSERecord(None, "a")]


def test_sse_parser_utf8_sequence_split_across_chunks() -> None:
    stream = 'data: {"delta":"héllo — 世界 🙂"}\n\n'.encode()
    for cut in range(1, len(stream)):
        assert parse_in_pieces(stream, [cut]) == [SSERecord(None, '{"delta":"héllo — 世界 🙂"}')]


def test_sse_parser_whole_chunks_after_a_split_character_and_invalid_bytes() -> None:
    # Whole reads decode in one step; a read that ends inside a character (or holds invalid bytes) goes through
    # the incremental decoder until it holds nothing again.
    parser = SSEParser()
    assert parser.feed(b"data: \xe4\xb8") == []
    assert parser.feed(b"\x96\xe7\x95\x8c\n\n") == [SSERecord(None, "世界")]
    assert parser.feed(b"data: \xff\xfe x\n\n") == [SSERecord(None, "\ufffd\ufffd x")]
    assert parser.feed(b"data: \xf0\x9f") + parser.feed(b"\x99\x82\n\ndata: \xc3") == [SSERecord(None, "🙂")]
    assert parser.feed(b"\xa9\n\n") == [SSERecord(None, "é")]
    assert parser.feed(b"data: \xc3\n\n") == [SSERecord(None, "\ufffd")]
    assert parser.feed_pairs(b"event: e\ndata: 1\n\ndata: 2\n\n") == [("e", "1"), (None, "2")]
    assert parser.feed(b"data: \xc3") == [] and parser.close() == [SSERecord(None, "\ufffd")]


def test_sse_parser_accepts_text_chunks() -> None:
    parser = SSEParser()
    assert parser.feed("data: é\n") + parser.feed("\n") == [SSERecord(None, "é")]


def test_sse_parser_leading_bom_stripped() -> None:
    assert parse_whole("\ufeffdata: x\n\n".encode()) == [SSERecord(None, "x")]


def test_sse_parser_records_returned_only_when_blank_line_arrives() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: x\n") == []
    assert parser.feed(b"\n") == [SSERecord(None, "x")]


def test_sse_parser_close_flushes_record_without_blank_line() -> None:
    # Azure's Responses streams can end at response.completed with no trailing blank line.
    parser = SSEParser()
    assert parser.feed(b'event: response.completed\ndata: {"type":"response.completed"}\n') == []
    assert parser.close() == [SSERecord("response.completed", '{"type":"response.completed"}')]


def test_sse_parser_close_flushes_unterminated_last_line() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DO") + parser.feed(b"NE]") == []
    assert parser.close() == [SSERecord(None, "[DONE]")]


def test_sse_parser_close_after_complete_stream_returns_nothing() -> None:
    parser = SSEParser()
    parser.feed(b"data: x\n\n")
    assert parser.close() == []


_FIELD_LINES = st.sampled_from(
    ['data: {"a":"é世"}', "data:x", "data", "event: response.output_text.delta", ": comment", "id: 1", ""]
)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(_FIELD_LINES, max_size=30),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_sse_parser_chunk_boundaries_never_change_records(lines: list[str], eol: str, cuts: list[int]) -> None:
    stream = (eol.join(lines) + eol).encode()
    expected = parse_whole(stream)
    assert parse_in_pieces(stream, [c for c in cuts if c <= len(stream)]) == expected
    assert list(iter_sse_lines(stream.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n"))) == expected


def test_iter_sse_lines_matches_rules() -> None:
    lines = ["event: e", "data: 1", "data: 2", "", ": c", "data:3", "", "event: only", ""]
    assert list(iter_sse_lines(lines)) == [SSERecord("e", "1\n2"), SSERecord(None, "3")]


def test_iter_sse_lines_strips_kept_terminators() -> None:
    assert list(iter_sse_lines(["data: x\r\n", "\r\n", "data: y\n", "\n"])) == [
        SSERecord(None, "x"),
        SSERecord(None, "y"),
    ]


def test_iter_sse_lines_yields_final_record_without_blank_line() -> None:
    assert list(iter_sse_lines(["event: response.completed", "data: {}"])) == [SSERecord("response.completed", "{}")]


def test_iter_sse_lines_is_lazy() -> None:
    def lines() -> Iterator[str]:
        yield "data: first"
        yield ""
        raise AssertionError("read past the first record")

    records = iter_sse_lines(lines())
    assert next(records) == SSERecord(None, "first")


def test_sse_parser_real_chat_streams_one_record_per_data_line() -> None:
    chat = [i for i in streamed_recordings() if i.api_shape == "chat"]
    assert chat, "no recorded chat streams"
    rng = random.Random(4)
    for interaction in chat:
        body = interaction.response_body
        data_lines = [line for line in body.decode().splitlines() if line.startswith("data:")]
        cuts = [rng.randrange(len(body)) for _ in range(20)]
        records = parse_in_pieces(body, cuts)
        assert len(records) == len(data_lines), interaction.name
        assert records[-1].data == "[DONE]", interaction.name
        assert all(r.event is None for r in records), interaction.name
        assert all(isinstance(json.loads(r.data), dict) for r in records[:-1]), interaction.name


def test_sse_parser_real_responses_streams_event_matches_type() -> None:
    responses = [i for i in streamed_recordings() if i.api_shape == "responses"]
    assert responses, "no recorded Responses streams"
    rng = random.Random(5)
    for interaction in responses:
        body = interaction.response_body
        records = parse_in_pieces(body, [rng.randrange(len(body)) for _ in range(20)])
        assert records, interaction.name
        assert all(json.loads(r.data)["type"] == r.event for r in records), interaction.name
        assert records[-1].event in {"response.completed", "response.incomplete", "response.failed"}
        assert list(iter_sse_lines(body.decode().splitlines())) == records, interaction.name
