"""The captured content's shapes: every message part kind, inline bytes recorded by size only."""

from __future__ import annotations

import json

from shared_core.messages import (
    AudioPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
)
from shared_core.request import ChatRequest
from shared_core.telemetry_content import input_attributes


def test_telemetry_content_every_part_kind_has_a_shape_and_inline_bytes_stay_out() -> None:
    big = "A" * 10_000
    image = ImagePart.from_bytes(b"\x89PNG" * 100, "image/png")
    parts = (
        TextPart("look"),
        image,
        ImagePart("https://example.com/cat.png"),
        AudioPart(data=big, format="wav", transcript="hello"),
        FilePart(data_url="data:application/pdf;base64," + big, filename="a.pdf"),
        HostedToolPart(item={"type": "web_search_call", "id": "ws_1", "results": [big]}),
        ReasoningPart(text="thinking"),
    )
    attributes = input_attributes(ChatRequest((Message("user", parts),)))

    assert big not in attributes["gen_ai.input.messages"] and "iVBORw" not in attributes["gen_ai.input.messages"]
    (message,) = json.loads(attributes["gen_ai.input.messages"])
    assert [p["type"] for p in message["parts"]] == ["text", "blob", "uri", "blob", "file", "hosted_tool", "reasoning"]
    size = len(image.url)
    assert message["parts"][1] == {"type": "blob", "modality": "image", "mime_type": "image/png", "size": size}
    assert message["parts"][3]["transcript"] == "hello" and message["parts"][3]["mime_type"] == "audio/wav"
    assert message["parts"][5] == {"type": "hosted_tool", "item_type": "web_search_call", "id": "ws_1"}
