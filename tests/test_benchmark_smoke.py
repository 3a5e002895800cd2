"""The benchmark runs and reports in shape; no timing is asserted here (targets live in the benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.server import FixedResponses
from shared_core.result import StreamAccumulator
from shared_core.transport.sse import SSEParser
from shared_core.wire import chat_completions

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_fixed_stream_folds_to_its_text_through_the_gateway_decoder() -> None:
    fixed = FixedResponses(5)
    parser, decoder, folded = SSEParser(), chat_completions.ChatStreamDecoder(), StreamAccumulator()
    for record in parser.feed(b"".join(fixed.events)):
        for event in decoder.decode(record.event, record.data):
            folded.add(event)

    result = folded.result(deployment="bench", request_id=None)
    assert decoder.done
    assert result.text == "word0 word1 word2 word3 word4 "
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.output_tokens == 5
    assert fixed.data_events == 9  # prompt filter, role, 5 text, finish, usage


def test_benchmark_fixed_body_decodes_as_a_chat_completion() -> None:
    result = chat_completions.decode_response(json.loads(FixedResponses(3).body))

    assert result.text == "Hello! How can I assist you today?"
    assert result.finish_reason == "stop"


def test_benchmark_realistic_workload_streams_its_64_word_answer_in_200_chunks() -> None:
    fixed = FixedResponses(200, answer_words=64)
    parser, decoder, folded = SSEParser(), chat_completions.ChatStreamDecoder(), StreamAccumulator()
    for record in parser.feed(b"".join(fixed.events)):
        for event in decoder.decode(record.event, record.data):
            folded.add(event)

    whole = chat_completions.decode_response(json.loads(fixed.body))
    assert fixed.data_events == 204 and len(whole.text.split()) == 64
    assert folded.result(deployment="bench", request_id=None).text == whole.text


def test_benchmark_quick_run_writes_a_well_formed_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--clients",
            "httpx,gateway",
            "--no-imports",
            "--json",
            str(out),
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    clients = report["summary"]["clients"]
    assert set(clients) == {"httpx", "gateway"}
    for name in ("httpx", "gateway"):
        row = clients[name]
        assert "errors" not in row, row.get("errors")
        for metric in ("call_cpu_us", "chunk_cpu_us", "inflight_calls_per_s", "inflight_cpu_us", "construct_us"):
            assert isinstance(row[metric], float) and row[metric] > 0, (name, metric, row[metric])
    assert clients["httpx"]["call_x"] == 1.0
    targets = report["summary"]["targets"]
    assert isinstance(targets["call"]["pass"], bool)
    assert isinstance(targets["chunk"]["pass"], bool)
    assert targets["async"]["pass"] is None  # its baseline (httpx + aiohttp) was not in this run
    assert "| shared_core.Gateway |" in done.stdout
    assert "gateway target" in done.stdout
