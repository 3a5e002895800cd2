"""The walk through the steps, in order, ending with the cost table; :func:`walk` raises what a call raised."""

from __future__ import annotations

from collections.abc import Callable

from demo import steps
from demo.console import EventPrinter, heading, say
from demo.targets import AzureTarget, EmulatedRegions, Models
from shared_core.costs import CostTotals

__all__ = ["walk"]


def _cost_table(rows: dict[str, CostTotals]) -> None:
    total = CostTotals()
    for totals in rows.values():
        total = steps.add_totals(total, totals)
    lines: list[tuple[str, ...]] = [("deployment", "calls", "input", "output", "unknown", "cost (USD)")]
    for name, t in [*rows.items(), ("TOTAL", total)]:
        counts = (t.calls, t.input_tokens, t.output_tokens, t.unknown_cost_calls)
        lines.append((name, *(str(n) for n in counts), f"{t.amount:.6f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    for n, line in enumerate(lines):
        if n == len(lines) - 1:
            say(rule)
        say("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))))
        if n == 0:
            say(rule)
    if total.unknown_cost_calls:
        say("unknown: no price for the deployment's model; set its model (deployment_models) or add prices")


def walk(target: EmulatedRegions | AzureTarget, printer: EventPrinter) -> None:
    """Run every step against ``target``, printing as it goes, then the cost table."""
    models = target.models(printer)
    used: list[Models] = [models]
    chat, llm = models.chat, models.llm
    plan: list[tuple[str, Callable[[], None]]] = [
        ("LangChain: a chain, streamed (prompt | model | parser)", lambda: steps.langchain_chain(chat)),
        ("LangChain: a tool call", lambda: steps.langchain_tool_call(chat)),
        ("LangChain: a dangling tool call, repaired", lambda: steps.langchain_repair(chat)),
        ("LlamaIndex: a query engine, streamed", lambda: steps.llamaindex_query_engine(llm)),
        ("LlamaIndex: an agent calling a tool (FunctionAgent)", lambda: steps.llamaindex_agent(llm)),
    ]
    for number, (title, step) in enumerate(plan, start=1):
        heading(number, title)
        step()
    heading(len(plan) + 1, "Failover: the first region fails")
    failing, note = target.start_failover(printer, models)
    say(note)
    if failing is not models:
        used.append(failing)
    steps.failover_step(failing)
    say(target.failover_summary())
    heading(len(plan) + 2, "Costs per deployment (shipped price table; PTU has no per-call cost)")
    _cost_table(steps.cost_rows(used))
