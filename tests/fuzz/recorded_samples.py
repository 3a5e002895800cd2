"""Real Azure answers, cut into the units the decoders read: stream records and whole bodies, per API shape.

Mutating real chunks reaches the decoders' deep branches (tool-call deltas, filter annotations, usage) far
more often than JSON drawn from nothing; the recordings are the wire truth (hand-edited fixtures are left out).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from shared_core.messages import JsonValue
from shared_core.transport.sse import SSEParser, SSERecord
from tests.support.recordings import Interaction, azure_interactions

__all__ = ["RecordedSamples", "load_recorded_samples"]

# Larger bodies (echoed multi-megabyte instructions) add nothing the small ones lack but slow every mutation.
_MAX_BODY = 16_000
_MAX_STREAM = 64_000


@dataclass(frozen=True, slots=True)
class RecordedSamples:
    """Decoder inputs taken from the recordings.

    Attributes:
        chat_streams: Each Chat Completions stream as its records, ``[DONE]`` included.
        chat_chunks: Every parsed Chat Completions stream chunk (``[DONE]`` left out).
        chat_stream_bodies: The raw bytes of each Chat Completions stream.
        chat_bodies: Parsed 200 Chat Completions bodies.
        responses_streams: Each Responses stream as its records.
        responses_bodies: Parsed 200 Responses bodies.
    """

    chat_streams: tuple[tuple[SSERecord, ...], ...]
    chat_chunks: tuple[JsonValue, ...]
    chat_stream_bodies: tuple[bytes, ...]
    chat_bodies: tuple[JsonValue, ...]
    responses_streams: tuple[tuple[SSERecord, ...], ...]
    responses_bodies: tuple[JsonValue, ...]


def _records_of(body: bytes) -> tuple[SSERecord, ...]:
    parser = SSEParser()
    return tuple(parser.feed(body) + parser.close())


def _records(interaction: Interaction) -> tuple[SSERecord, ...]:
    return _records_of(interaction.response_body)


def _body(interaction: Interaction) -> JsonValue:
    if len(interaction.response_body) > _MAX_BODY:
        return None
    try:
        value: JsonValue = json.loads(interaction.response_body)
    except ValueError:
        return None
    return value


@functools.cache
def load_recorded_samples() -> RecordedSamples:
    """Load once per session (the YAML takes seconds to read)."""
    ok = [i for i in azure_interactions() if i.status == 200 and not i.hand_edited]
    chat = [i for i in ok if i.api_shape == "chat"]
    responses = [i for i in ok if i.api_shape == "responses"]
    chat_stream_bodies = tuple(i.response_body for i in chat if i.is_stream and len(i.response_body) <= _MAX_STREAM)
    chat_streams = tuple(_records_of(body) for body in chat_stream_bodies)
    samples = RecordedSamples(
        chat_streams=chat_streams,
        chat_stream_bodies=chat_stream_bodies,
        chat_chunks=tuple(json.loads(r.data) for stream in chat_streams for r in stream if r.data != "[DONE]"),
        chat_bodies=tuple(b for i in chat if not i.is_stream if isinstance(b := _body(i), dict)),
        responses_streams=tuple(_records(i) for i in responses if i.is_stream and len(i.response_body) <= _MAX_STREAM),
        responses_bodies=tuple(b for i in responses if not i.is_stream if isinstance(b := _body(i), dict)),
    )
    assert all((samples.chat_streams, samples.chat_bodies, samples.responses_streams, samples.responses_bodies))
    return samples
