"""The parameter rules a deployment's model enforces, so clients meet Azure's 400s before Azure does.

Reasoning models (o1, o3, o4-mini, gpt-5 and later; not ``gpt-5-chat``) reject on Chat Completions:

- ``max_tokens`` (recorded on gpt-5-mini: ``Unsupported parameter: 'max_tokens' is not supported with this
  model. Use 'max_completion_tokens' instead.``, code ``unsupported_parameter``);
- ``temperature`` / ``top_p`` other than 1 (code ``unsupported_value``, as OpenAI words it:
  ``Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is
  supported.``).

On the Responses API the same models reject ``temperature`` and ``top_p`` outright (``unsupported_parameter``).
The rule reads the deployment's model (``DeploymentInfo.model``), never the request, as Azure does: a
deployment named ``prod-chat`` running gpt-5-mini still rejects ``temperature``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared_core.messages import JsonValue

__all__ = ["ParameterRejection", "is_reasoning_model", "reject_parameters"]

_REASONING = re.compile(r"^(o\d|gpt-5)(?!-chat)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParameterRejection:
    """Why a request is rejected: the parameter, Azure's message, and its code."""

    param: str
    message: str
    code: str


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` (``gpt-5-mini-2025-08-07``, ``o3-mini``…) is a reasoning model."""
    return bool(_REASONING.match(model))


def _number_text(value: JsonValue) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def reject_parameters(api: str, body: Mapping[str, JsonValue], model: str) -> ParameterRejection | None:
    """The first parameter the deployment's model rejects, or ``None`` when the request is acceptable."""
    if not is_reasoning_model(model):
        return None
    if api == "chat" and "max_tokens" in body:
        message = (
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
        )
        return ParameterRejection("max_tokens", message, "unsupported_parameter")
    for param in ("temperature", "top_p"):
        value = body.get(param)
        if value is None or value == 1:
            continue
        if api == "chat":
            message = (
                f"Unsupported value: '{param}' does not support {_number_text(value)} with this model. "
                "Only the default (1) value is supported."
            )
            return ParameterRejection(param, message, "unsupported_value")
        message = f"Unsupported parameter: '{param}' is not supported with this model."
        return ParameterRejection(param, message, "unsupported_parameter")
    return None
