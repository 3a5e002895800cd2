"""The Chat Completions wire codec: ChatRequest -> request JSON, response JSON / SSE -> ChatResult / events.

Pure (no I/O). Encoding lives in :mod:`shared_core.wire.chat_encode`, decoding in
:mod:`shared_core.wire.chat_decode` and, for streams, :mod:`shared_core.wire.chat_stream_decode`; their module
docstrings record the Azure behaviour behind each rule.
"""

from __future__ import annotations

from shared_core.wire.chat_decode import decode_error, decode_response
from shared_core.wire.chat_encode import encode_request
from shared_core.wire.chat_stream_decode import ChatStreamDecoder

__all__ = ["ChatStreamDecoder", "decode_error", "decode_response", "encode_request"]
