"""``with_structured_output``: ``AzureChatOpenAI``'s three methods, its default and its fallback, and the parse.

``json_schema`` (the default) sends ``response_format: json_schema`` with the schema ``AzureChatOpenAI`` sends
(a pydantic class made strict as the openai SDK makes it, ``strict: true``; other schemas through
``convert_to_openai_function``); ``function_calling`` forces one tool whose arguments are the answer (without
``parallel_tool_calls`` when ``disabled_params`` says so); ``json_mode`` asks for any JSON object.

Where ``json_schema`` is not available, the method falls back to ``function_calling`` with a warning, as
``AzureChatOpenAI`` does for a pydantic v1 class and for ``gpt-3*`` / ``gpt-4-*`` / ``gpt-4`` models; here also
for an api-version before 2024-08-01-preview, which Azure would refuse
(``shared_core.request.json_schema_unavailable``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_function, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel

from langchain_azure_gateway.strict_schema import strict_json_schema
from shared_core import ConfigurationError
from shared_core.integration import json_schema_unavailable

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput

    from langchain_azure_gateway.chat_model import AzureGatewayChatModel

__all__ = ["StructuredMethod", "choose_method", "openai_response_format", "structured_runnable"]

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]


def _is_pydantic(schema: object) -> bool:
    # pydantic v1 models (``pydantic.v1.BaseModel``) are accepted too, as LangChain accepts them.
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def choose_method(model: AzureGatewayChatModel, schema: object, method: StructuredMethod) -> StructuredMethod:
    """``method``, or ``function_calling`` (with a warning) where ``json_schema`` is not available."""
    if method != "json_schema":
        return method
    if _is_pydantic(schema) and not issubclass(cast(type, schema), BaseModel):
        warnings.warn(
            'Received a Pydantic BaseModel V1 schema. This is not supported by method="json_schema". Please use '
            'method="function_calling" or specify schema via JSON Schema or Pydantic V2 BaseModel. Overriding to '
            'method="function_calling".',
            stacklevel=3,
        )
        return "function_calling"
    reason = json_schema_unavailable(model.model, model.api_version)
    if reason is not None:
        warnings.warn(
            f"Cannot use method='json_schema': {reason}. To fix this warning, set `method='function_calling'`. "
            "Overriding to method='function_calling'.",
            stacklevel=3,
        )
        return "function_calling"
    return method


def openai_response_format(schema: Mapping[str, Any] | type, strict: bool | None) -> dict[str, Any]:
    """The ``response_format`` ``AzureChatOpenAI`` sends for ``schema`` (see the module docstring)."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        json_schema = {"name": schema.__name__, "schema": strict_json_schema(schema), "strict": True}
        return {"type": "json_schema", "json_schema": json_schema}
    if isinstance(schema, Mapping) and schema.get("type") == "json_schema" and "json_schema" in schema:
        return dict(schema)
    if isinstance(schema, Mapping) and "name" in schema and "schema" in schema:
        return {"type": "json_schema", "json_schema": dict(schema)}
    if strict is None:
        given = schema.get("strict") if isinstance(schema, Mapping) else None
        strict = given if isinstance(given, bool) else False
    function = dict(convert_to_openai_function(cast(Any, schema), strict=strict))
    function["schema"] = function.pop("parameters")
    return {"type": "json_schema", "json_schema": function}


def structured_runnable(
    model: AzureGatewayChatModel,
    schema: Mapping[str, Any] | type,
    *,
    method: StructuredMethod,
    strict: bool | None,
    include_raw: bool,
    kwargs: Mapping[str, Any],
) -> Runnable[LanguageModelInput, Any]:
    """The runnable ``with_structured_output`` returns (see the model's method for the arguments)."""
    if strict is not None and method == "json_mode":
        raise ConfigurationError("strict is not supported with method='json_mode'", fix="drop strict")
    method = choose_method(model, schema, method)
    parser: Runnable[Any, Any]
    if method == "function_calling":
        bound, parser = _forced_tool_call(model, schema, strict, kwargs)
    elif method == "json_schema":
        bound = model.bind(
            response_format=openai_response_format(schema, strict),
            ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict},
                "schema": convert_to_openai_tool(cast(Any, schema)),
            },
            **kwargs,
        )
        parser = _json_parser(schema)
    elif method == "json_mode":
        bound = model.bind(
            response_format={"type": "json_object"},
            ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
            **kwargs,
        )
        parser = _json_parser(schema)
    else:
        raise ConfigurationError(
            f"with_structured_output method {method!r} is not supported",
            fix="use 'json_schema', 'function_calling' or 'json_mode'",
        )
    if not include_raw:
        return bound | parser
    parse = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | parse.with_fallbacks([fallback], exception_key="parsing_error")


def _forced_tool_call(
    model: AzureGatewayChatModel, schema: Mapping[str, Any] | type, strict: bool | None, kwargs: Mapping[str, Any]
) -> tuple[Runnable[LanguageModelInput, Any], Runnable[Any, Any]]:
    """``method="function_calling"``: the model bound to call the schema as its one tool, and the call's parser."""
    tool = convert_to_openai_tool(cast(Any, schema), strict=strict)
    name = tool["function"]["name"]
    options: dict[str, Any] = {"tool_choice": name, "parallel_tool_calls": False, "strict": strict}
    for disabled in model.disabled_params or {}:
        options.pop(disabled, None)
    bound = model.bind_tools(
        [cast(Any, schema)],
        ls_structured_output_format={"kwargs": {"method": "function_calling", "strict": strict}, "schema": schema},
        **{**options, **kwargs},
    )
    parser: Runnable[Any, Any] = (
        PydanticToolsParser(tools=[cast(type[BaseModel], schema)], first_tool_only=True)
        if _is_pydantic(schema)
        else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    )
    return bound, parser


def _json_parser(schema: object) -> Runnable[Any, Any]:
    # Imported here: their modules load only when a structured output asks for them, not with the package.
    from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser  # noqa: PLC0415

    if _is_pydantic(schema):
        return PydanticOutputParser(pydantic_object=cast(type[BaseModel], schema))
    return JsonOutputParser()
