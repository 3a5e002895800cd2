"""Structured output through Azure's ``json_schema`` response format, where the model and api-version allow it.

Elsewhere (older api-versions, models without structured outputs) LlamaIndex's function-calling program is used
instead, with the tool call forced.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.instrumentation.events.llm import LLMStructuredPredictEndEvent, LLMStructuredPredictStartEvent
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from llama_index.core.types import PydanticProgramMode
from llama_index_instrumentation import get_dispatcher  # what llama_index.core.instrumentation re-exports
from pydantic import BaseModel

from llamaindex_azure_gateway.errors import ModelRefusalError
from llamaindex_azure_gateway.llm_fields import LLMFields
from shared_core.integration import ModelProfile

if TYPE_CHECKING:
    from llama_index.core.prompts import PromptTemplate

__all__ = ["JSON_SCHEMA_API_VERSION", "StructuredOutputLLM", "json_schema_allowed", "parse_structured_response"]

JSON_SCHEMA_API_VERSION = "2024-08-01-preview"
"""The first Chat Completions api-version that accepts ``response_format: json_schema``."""

_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}")
Model = TypeVar("Model", bound=BaseModel)
dispatcher = get_dispatcher(__name__)


def json_schema_allowed(profile: ModelProfile, api_version: str, *, responses_api: bool) -> bool:
    """Whether a request may ask for ``json_schema`` output.

    The Responses API exists only on api-versions that accept it; on Chat Completions it arrived with
    2024-08-01-preview, and ``v1`` / ``latest`` / ``preview`` are newer than any dated version.
    """
    if not profile.supports_json_schema:
        return False
    if responses_api or not _DATED.match(api_version):
        return True
    return api_version[:10] >= JSON_SCHEMA_API_VERSION[:10]


def parse_structured_response(output_cls: type[Model], response: ChatResponse) -> Model:
    """Validate the answer of a ``json_schema`` request into ``output_cls``.

    Raises:
        ModelRefusalError: The model refused (the refusal is quoted; also a ``ValueError``).
        ValueError: The answer does not match the schema (pydantic's ``ValidationError``).
    """
    raw = response.raw if isinstance(response.raw, dict) else {}
    refusal = raw.get("refusal")
    if refusal:
        raise ModelRefusalError(
            f"the model refused to produce a {output_cls.__name__}: {refusal}",
            refusal=str(refusal),
            output_type=output_cls.__name__,
        )
    return output_cls.model_validate_json(response.message.content or "")


class StructuredOutputLLM(LLMFields):
    """Structured output as llama-index's Azure classes do it, with the schema checks of this module."""

    def _json_schema_allowed(self) -> bool:
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT and json_schema_allowed(
            self._profile, self._gateway.config.api_version, responses_api=self.use_responses_api
        )

    def _stream_json_schema_allowed(self) -> bool:
        # llama-index's Responses class streams structured output through a forced function call.
        return self._json_schema_allowed() and not self.use_responses_api

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Structured output: ``json_schema`` where allowed, else a forced function call."""
        if not self._json_schema_allowed():
            return super().structured_predict(output_cls, prompt, llm_kwargs=llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args)
        )
        messages = self._get_messages(prompt, **prompt_args)
        response = self.chat(messages, **{**(llm_kwargs or {}), "response_format": output_cls})
        result = parse_structured_response(output_cls, response)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async :meth:`structured_predict`."""
        if not self._json_schema_allowed():
            return await super().astructured_predict(output_cls, prompt, llm_kwargs=llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args)
        )
        messages = self._get_messages(prompt, **prompt_args)
        response = await self.achat(messages, **{**(llm_kwargs or {}), "response_format": output_cls})
        result = parse_structured_response(output_cls, response)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Any, None, None]:
        """Stream structured output: ``json_schema`` where allowed, else a forced function call (as llama-index)."""
        llm_kwargs = dict(llm_kwargs or {})
        if not self._stream_json_schema_allowed():
            llm_kwargs.setdefault("tool_choice", "required")
            yield from super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
            return
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        llm_kwargs.pop("tool_choice", None)
        current: Any = None
        for response in self.stream_chat(messages, **{**llm_kwargs, "response_format": output_cls}):
            current = process_streaming_content_incremental(response, output_cls, current)
            yield current

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Any, None]:
        """Async :meth:`_structured_stream_call`."""
        llm_kwargs = dict(llm_kwargs or {})
        if not self._stream_json_schema_allowed():
            llm_kwargs.setdefault("tool_choice", "required")
            return await super()._structured_astream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        llm_kwargs.pop("tool_choice", None)
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        stream = await self.astream_chat(messages, **{**llm_kwargs, "response_format": output_cls})

        async def gen() -> AsyncGenerator[Any, None]:
            current: Any = None
            async for response in stream:
                current = process_streaming_content_incremental(response, output_cls, current)
                yield current

        return gen()
