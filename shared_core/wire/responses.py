"""ChatRequest <-> Responses API JSON: the codec the gateway calls for ``api="responses"``.

Encoding lives in :mod:`shared_core.wire.responses_encode`, decoding (bodies, streams, errors) in
:mod:`shared_core.wire.responses_decode`; this module is the one the rest of the package imports.
"""

from __future__ import annotations

from shared_core.wire.responses_decode import ResponsesStreamDecoder, decode_error, decode_response
from shared_core.wire.responses_encode import MIN_PREVIEW_API_VERSION, encode_request

__all__ = [
    "MIN_PREVIEW_API_VERSION",
    "ResponsesStreamDecoder",
    "decode_error",
    "decode_response",
    "encode_request",
]
