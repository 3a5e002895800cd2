"""Notebook displays (``_repr_html_`` / ``_repr_markdown_``): what each object shows, escaped, and no secret.

Evidence: real results, errors, health and doctor reports produced by calls through the gateway to the
emulator (``azure_openai_emulator``), with a canary API key that the emulator's request log proves was sent;
model output and error text carrying HTML must come out escaped. Plain ``repr``/``str`` are checked unchanged.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from azure_openai_emulator import AzureEmulator, HttpError, PromptFiltered, Reply, ToolCall
from langchain_azure_gateway.errors import from_core_error
from shared_core import (
    AuthenticationError,
    CallCost,
    ChatRequest,
    ChatResult,
    ContentFilterError,
    CostTracker,
    Gateway,
    GatewayError,
    Message,
    RetryPolicy,
    load_config,
)
from shared_core.doctor import run_doctor
from shared_core.transport.health import InMemoryHealthStore

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

CANARY = "canary-display-key-7c1e94b2d05a"
EVIL = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    with AzureEmulator(api_key=CANARY) as emu:
        yield emu


@pytest.fixture
def gateway(emulator: AzureEmulator) -> Gateway:
    emulator.reset()
    config = load_config(env={}, endpoint=emulator.endpoint, api_key=CANARY, default_deployment="gpt-4o-mini")
    return Gateway(config, retry_policy=RetryPolicy(max_retries=0))


def assert_safe(rendered: str) -> None:
    """No canary, no live tag from untrusted text, and balanced markup of our own."""
    assert CANARY not in rendered
    assert "<script" not in rendered.lower()
    assert "<img" not in rendered.lower()
    assert rendered.count("<table") == rendered.count("</table>")


def visible(rendered: str) -> str:
    """The text a reader sees: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", rendered))


def ask(gateway: Gateway, text: str = "Hello") -> ChatResult:
    return gateway.complete(ChatRequest((Message.user(text),)))


def test_display_chat_result_shows_text_usage_cost_deployment_request_id_escaped(
    gateway: Gateway, emulator: AzureEmulator
) -> None:
    emulator.script(Reply(EVIL))
    result = ask(gateway)
    assert emulator.requests[-1].headers["api-key"] == CANARY  # the canary really was used
    rendered = result._repr_html_()
    assert_safe(rendered)
    assert html.escape(EVIL) in rendered
    seen = visible(rendered)
    assert EVIL in seen
    assert result.request_id and result.request_id in seen
    assert result.usage is not None
    assert f"{result.usage.input_tokens:,} in" in seen
    assert "deployment gpt-4o-mini" in " ".join(seen.split())
    assert result.cost is not None and f"${result.cost.amount:.6f}" in seen
    assert repr(result).startswith("ChatResult(message=Message(") and "<" not in repr(result)[:40]


def test_display_chat_result_lists_tool_calls(gateway: Gateway, emulator: AzureEmulator) -> None:
    emulator.script(Reply(None, tool_calls=(ToolCall("get_weather", '{"city": "<Paris>"}'),)))
    result = ask(gateway, "Weather?")
    rendered = result._repr_html_()
    assert_safe(rendered)
    assert 'get_weather({"city": "<Paris>"})' in visible(rendered)
    assert "&lt;Paris&gt;" in rendered


def test_display_error_shows_what_happened_fix_and_request_id(gateway: Gateway, emulator: AzureEmulator) -> None:
    emulator.script(HttpError(401))
    with pytest.raises(AuthenticationError) as info:
        ask(gateway)
    error = info.value
    rendered = error._repr_html_()
    assert_safe(rendered)
    seen = " ".join(visible(rendered).split())
    assert seen.startswith("AuthenticationError what happened")
    assert "fix" in seen
    assert error.request_id and f"request id {error.request_id}" in seen
    assert str(error) == f"{error.message} [{', '.join(f'{k}={v}' for k, v in error.context().items())}]"
    langchain_form = from_core_error(error)
    assert langchain_form._repr_html_() == rendered.replace(  # type: ignore[union-attr]
        "AuthenticationError", type(langchain_form).__name__, 1
    )


def test_display_content_filter_error_shows_categories(gateway: Gateway, emulator: AzureEmulator) -> None:
    emulator.script(PromptFiltered())
    with pytest.raises(ContentFilterError) as info:
        ask(gateway)
    rendered = info.value._repr_html_()
    assert_safe(rendered)
    assert "self_harm" in visible(rendered)
    assert "(filtered)" in visible(rendered)


def test_display_error_escapes_untrusted_message() -> None:
    error = GatewayError(f"Azure said: {EVIL}. Fix: do not {EVIL}", request_id="req-<1>")
    rendered = error._repr_html_()
    assert_safe(rendered)
    seen = visible(rendered)
    assert f"Azure said: {EVIL}." in seen and f"do not {EVIL}" in seen
    assert "req-<1>" in seen


def test_display_cost_tracker_table_html_and_markdown() -> None:
    tracker = CostTracker()
    tracker.record(CallCost("chat<b>", "gpt-4o-mini", 0.25, input_tokens=1000, output_tokens=20, endpoint="eu|1"))
    tracker.record(CallCost("other", None, None, input_tokens=5, reason="no price"))
    rendered = tracker._repr_html_()
    assert_safe(rendered)
    assert "chat<b>" not in rendered and "eu|1/chat&lt;b&gt;" in rendered
    seen = " ".join(visible(rendered).split())
    assert "eu|1/chat<b> gpt-4o-mini 1 1,000 0 20 0 0.250000" in seen
    assert "TOTAL 2 1,005 0 20 1 0.250000" in seen
    assert "1 call(s) have no known price" in seen
    markdown = tracker._repr_markdown_()
    lines = markdown.splitlines()
    assert len(lines) == 5 and all(line.count("|") == 9 for line in lines)  # a '|' in a name is escaped
    assert "eu&#124;1/chat&lt;b&gt;" in markdown
    assert tracker.as_table().splitlines()[0].split() == [
        "deployment", "model", "calls", "input", "cached", "output", "unknown", "cost", "(USD)"
    ]  # fmt: skip


def test_display_health_snapshot_shows_status_wait_and_latency() -> None:
    clock = [100.0]
    store = InMemoryHealthStore(now=lambda: clock[0])
    store.record_success("eastus/gpt-4o-mini", 0.0123)
    store.record_failure("westus/gpt-4o-mini", "rate_limit", 30.0, message=f"429 {EVIL}")
    clock[0] += 10.0
    snapshot = store.snapshot()
    assert isinstance(snapshot, dict)
    rendered = snapshot._repr_html_()  # type: ignore[attr-defined]
    assert_safe(rendered)
    rows = [" ".join(visible(row).split()) for row in rendered.split("<tr>")[2:]]
    assert rows[0] == "eastus/gpt-4o-mini healthy now 12.3 ms (1) 0"
    assert rows[1].startswith("westus/gpt-4o-mini cooling_down 20.0 s n/a")
    assert EVIL in rows[1]
    assert store._repr_html_() == rendered
    assert snapshot["westus/gpt-4o-mini"]._repr_html_().count("<tr>") == 2


def test_display_doctor_report_table_without_secret(emulator: AzureEmulator) -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": emulator.endpoint,
        "AZURE_OPENAI_API_KEY": CANARY,
        "AZURE_OPENAI_DEFAULT_DEPLOYMENT": "gpt-4o-mini",
    }
    emulator.reset()
    report = run_doctor(env=env, echo=lambda _line: None)
    assert report.ok
    assert emulator.requests[-1].headers["api-key"] == CANARY
    rendered = report._repr_html_()
    assert_safe(rendered)
    seen = " ".join(visible(rendered).split())
    assert "ok configuration" in seen and "ok request" in seen
    assert "api_key = **********" in seen
    assert seen.endswith("All 5 checks passed.")
    assert CANARY not in report.render()
