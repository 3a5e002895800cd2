"""Audio and file parts on the wire, both API shapes, and the checks made before anything is sent.

- Input audio (a user's :class:`~shared_core.messages.AudioPart`): ``{"type": "input_audio", "input_audio":
  {"data", "format"}}`` on Chat Completions; ``format`` must be ``wav`` or ``mp3``. An answer's audio in an
  assistant turn goes back as ``audio: {"id": ...}`` (Azure keeps the audio until ``expires_at``). The Responses
  API takes no audio at all (its message content is text, images and files): the encoder refuses it.
- Files (:class:`~shared_core.messages.FilePart`): Chat Completions ``{"type": "file", "file": {"file_data" |
  "file_id", "filename"}}``; Responses ``{"type": "input_file", "file_data" | "file_id", "filename"}``.
- Before sending: audio goes only to a deployment whose model takes audio (an ``*audio*`` / ``*realtime*`` model,
  or one the profile table does not know); inline files in one request may total at most
  :data:`MAX_FILE_BYTES` (OpenAI's documented per-request limit for file inputs, which Azure applies).
"""

from __future__ import annotations

from shared_core.deployments import ResolvedDeployment
from shared_core.errors import UnsupportedContentError, UnsupportedParameterError
from shared_core.messages import AudioPart, FilePart, JsonValue, Message

__all__ = [
    "AUDIO_FORMATS",
    "MAX_FILE_BYTES",
    "chat_assistant_audio",
    "chat_file_part",
    "check_media",
    "input_audio_part",
    "responses_file_part",
]

JsonObject = dict[str, JsonValue]

AUDIO_FORMATS = frozenset({"wav", "mp3"})
"""The input audio formats Azure accepts."""
MAX_FILE_BYTES = 32 * 1024 * 1024
"""The most inline file data one request may carry (32 MB)."""


def _accepts_audio(target: ResolvedDeployment) -> bool:
    name = (target.model or target.deployment).lower()
    # profile_for matches gpt-4o-audio-preview to the gpt-4o row, so the name itself decides.
    return target.profile.family == "unknown" or "audio" in name or "realtime" in name


def check_media(messages: tuple[Message, ...], target: ResolvedDeployment) -> None:
    """Refuse audio to a model that takes none, badly formed audio, and too much file data, before sending.

    Raises:
        UnsupportedParameterError: Audio to a deployment whose model takes no audio, or inline files over
            :data:`MAX_FILE_BYTES` in total.
        UnsupportedContentError: Input audio without data or in a format other than wav/mp3; a file part with
            neither data nor id.
    """
    total = 0
    for index, message in enumerate(messages):
        for part in message.parts:
            if isinstance(part, AudioPart) and message.role != "assistant":
                _check_audio(index, part, target)
            elif isinstance(part, FilePart):
                if not part.data_url and not part.file_id:
                    raise UnsupportedContentError(
                        f"message {index} holds a file part with neither data nor file_id; pass "
                        "FilePart.from_bytes(data, 'application/pdf', 'name.pdf') or FilePart(file_id=...)",
                        index=index,
                        block_type="file",
                    )
                total += part.size
    if total > MAX_FILE_BYTES:
        raise UnsupportedParameterError(
            f"the request carries {total / 1_048_576:.1f} MB of inline file data for deployment "
            f"{target.deployment!r}; Azure accepts at most {MAX_FILE_BYTES // 1_048_576} MB per request. Fix: "
            "upload the file (Files API) and pass its file_id, or split the document",
            parameter="file",
            model=target.model,
            deployment=target.deployment,
        )


def _check_audio(index: int, part: AudioPart, target: ResolvedDeployment) -> None:
    if not _accepts_audio(target):
        raise UnsupportedParameterError(
            f"message {index} holds audio, but deployment {target.deployment!r} serves model "
            f"{target.model or target.deployment!r}, which takes no audio input. Fix: send it to an audio "
            "deployment (gpt-4o-audio-preview, gpt-4o-mini-audio-preview ...) or transcribe it first; if this "
            "deployment does take audio, name its model in deployment_models",
            parameter="input_audio",
            model=target.model,
            deployment=target.deployment,
        )
    if not part.data or part.format not in AUDIO_FORMATS:
        raise UnsupportedContentError(
            f"message {index} holds input audio with format {part.format!r}"
            f"{' and no data' if not part.data else ''}; Azure takes base64 wav or mp3. Fix: "
            "AudioPart.from_bytes(data, 'wav')",
            index=index,
            block_type="audio",
        )


def input_audio_part(part: AudioPart) -> JsonObject:
    """A user's audio as a Chat Completions ``input_audio`` content part."""
    return {"type": "input_audio", "input_audio": {"data": part.data, "format": part.format or "wav"}}


def chat_assistant_audio(part: AudioPart) -> JsonObject | None:
    """An answer's audio in a Chat Completions assistant message: ``{"id": ...}``, or ``None`` without an id."""
    return {"id": part.id} if part.id else None


def _file_fields(part: FilePart) -> JsonObject:
    out: JsonObject = {}
    if part.file_id:
        out["file_id"] = part.file_id
    else:
        out["file_data"] = part.data_url
    if part.filename:
        out["filename"] = part.filename
    return out


def chat_file_part(part: FilePart) -> JsonObject:
    """A file as a Chat Completions ``file`` content part."""
    return {"type": "file", "file": _file_fields(part)}


def responses_file_part(part: FilePart) -> JsonObject:
    """A file as a Responses ``input_file`` content part."""
    return {"type": "input_file", **_file_fields(part)}
