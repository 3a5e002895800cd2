"""The cost of a streamed call, priced here because no stream event carries it.

The gateway prices a stream once it has ended and records it in its tracker, but yields nothing after that,
so the LLM prices the folded result again, with the gateway's price table and the rule the gateway uses:
the deployment's configured base model decides, else the versioned model Azure reported. The stream's first
event names the deployment that answered, not its endpoint; when the same deployment name serves several
endpoints (regions) the amount is still known if they agree on base model and PTU, and ``endpoint`` is left
``None``; if they disagree, the amount is unknown and the reason says why.
"""

from __future__ import annotations

from shared_core import CallCost, ChatResult, Gateway, cost_of

__all__ = ["stream_cost"]


def stream_cost(gateway: Gateway, requested_model: str | None, result: ChatResult) -> CallCost:
    """Price a folded stream result as the gateway priced it.

    Args:
        gateway: The gateway that ran the call (its routes, deployment map and price table).
        requested_model: The request's ``model`` (``None`` for the default deployment).
        result: The folded stream, whose ``deployment`` came from the stream's first event.
    """
    deployment = result.deployment or ""
    resolved = gateway.deployments.resolve(requested_model)
    candidates = [t.candidate for t in gateway.routes.targets(resolved) if t.candidate.deployment == deployment]
    usage = result.usage
    if len({(c.model, c.ptu) for c in candidates}) != 1:
        where = ", ".join(sorted(c.endpoint for c in candidates)) or "no configured endpoint"
        return CallCost(
            deployment,
            resolved.model,
            None,
            input_tokens=usage.input_tokens if usage else 0,
            cached_input_tokens=usage.cached_input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            reason=f"deployment {deployment!r} is served by {where} with different prices; "
            "the stream does not say which answered",
        )
    first = candidates[0]
    model = first.model
    configured = (model is not None and model != first.deployment) or (
        first.deployment in gateway.deployments.deployment_models
    )
    if not configured:
        # As the gateway does: a deployment named like its model was never told its base model.
        model = result.model or model
    return cost_of(
        usage,
        deployment=deployment,
        model=model,
        ptu=first.ptu,
        prices=gateway.prices,
        endpoint=(first.endpoint or None) if len(candidates) == 1 else None,
    )
