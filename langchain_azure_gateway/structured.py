"""``with_structured_output``: bind a schema the three ways Azure supports, and parse the answer.

``json_schema`` (the default) sends ``response_format: json_schema``; ``function_calling`` forces one tool
whose arguments are the answer; ``json_mode`` asks for any JSON object and parses it with the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_function, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel

from shared_core import ConfigurationError

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput

    from langchain_azure_gateway.chat_model import AzureGatewayChatModel

__all__ = ["StructuredMethod", "structured_runnable"]

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]


def _is_pydantic(schema: object) -> bool:
    # pydantic v1 models (``pydantic.v1.BaseModel``) are accepted too, as LangChain accepts them.
    return isinstance(schema, type) and is_basemodel_subclass(schema)


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
    if method == "function_calling":
        tool = convert_to_openai_tool(cast(Any, schema), strict=strict)
        name = tool["function"]["name"]
        bound = model.bind_tools(
            [cast(Any, schema)],
            tool_choice=name,
            strict=strict,
            parallel_tool_calls=False,
            ls_structured_output_format={"kwargs": {"method": method, "strict": strict}, "schema": tool},
            **kwargs,
        )
        parser: Runnable[Any, Any] = (
            PydanticToolsParser(tools=[cast(type[BaseModel], schema)], first_tool_only=True)
            if _is_pydantic(schema)
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    elif method == "json_schema":
        function = convert_to_openai_function(cast(Any, schema), strict=strict)
        json_schema: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
        if strict is not None:
            json_schema["strict"] = strict
        response_format = {"type": "json_schema", "json_schema": json_schema}
        bound = model.bind(
            response_format=response_format,
            ls_structured_output_format={"kwargs": {"method": method, "strict": strict}, "schema": function},
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


def _json_parser(schema: object) -> Runnable[Any, Any]:
    if _is_pydantic(schema):
        return PydanticOutputParser(pydantic_object=cast(type[BaseModel], schema))
    return JsonOutputParser()
