"""Errors only the LlamaIndex integration raises, in the core's error tree.

Both are also ``ValueError`` (what LlamaIndex's own OpenAI classes raise in the same places), so code written for
those keeps working, while ``except shared_core.GatewayError`` catches them too.
"""

from __future__ import annotations

from shared_core import GatewayError, InvalidResponseError

__all__ = ["ModelRefusalError", "NoToolCallError"]


class NoToolCallError(InvalidResponseError, ValueError):
    """A tool call was required (``error_on_no_tool_call``) and the model answered without one."""


class ModelRefusalError(GatewayError, ValueError):
    """The model refused to produce the structured output asked for.

    Attributes:
        refusal: The model's refusal text, as it gave it.
        output_type: The name of the class the answer should have validated into.
    """

    def __init__(self, message: str, *, refusal: str, output_type: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.output_type = output_type
