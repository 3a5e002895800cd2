"""The error tree: its shape, one class for content Azure cannot carry, and every error surviving pickle and copy.

Evidence: real instances of every ``GatewayError`` subclass found by walking the class tree (the framework
packages' included), round-tripped through ``pickle`` and ``copy``; the 404 mapping is checked through the
translation table on Azure-shaped bodies; the three converters are run on content Azure rejects.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.base.llms.types import ChatMessage, TextBlock, VideoBlock

import llamaindex_azure_gateway
from langchain_azure_gateway.convert import to_core_messages as lc_to_core
from llamaindex_azure_gateway.convert import to_core_messages as li_to_core
from shared_core import (
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    ChatResult,
    ConfigurationError,
    ConnectionFailedError,
    ContentFilterError,
    ContextLengthExceededError,
    ConversationError,
    DeploymentNotFoundError,
    GatewayError,
    ImagePart,
    Message,
    MissingExtraError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StreamInterruptedError,
    TransientError,
    UnsupportedContentError,
    UnsupportedParameterError,
)
from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.errors import FilterCategory
from shared_core.transport.error_map import RequestContext, error_from_response
from shared_core.wire.chat_completions import encode_request

CTX: dict[str, Any] = {
    "deployment": "chat-dep",
    "endpoint": "https://example-resource.openai.azure.com",
    "status": 400,
    "code": "some_code",
    "request_id": "req-123",
    "retry_after": 2.5,
}
PARTIAL = ChatResult(message=Message.assistant("so far"), deployment="chat-dep", request_id="req-123")

# One sample per class that defines its own __init__: every field set to a non-default value.
SAMPLES: dict[type[BaseException], Callable[[type[Any]], GatewayError]] = {
    GatewayError: lambda cls: cls("what happened", **CTX),
    ConfigurationError: lambda cls: cls("bad value", source="env AZURE_X", fix="set it"),
    MissingExtraError: lambda cls: cls("LangChain support", "langchain", "langchain_core"),
    AuthenticationError: lambda cls: cls(
        "refused", credential="api_key", scope="https://cognitiveservices.azure.com/.default", **CTX
    ),
    ContentFilterError: lambda cls: cls(
        "filtered",
        side="completion",
        categories=(FilterCategory("hate", True, "high", None),),
        partial=PARTIAL,
        **CTX,
    ),
    UnsupportedParameterError: lambda cls: cls(
        "no temperature", parameter="temperature", model="o3-mini", api_version="2024-10-21", **CTX
    ),
    StreamInterruptedError: lambda cls: cls("broke", partial=PARTIAL, **CTX),
    ConnectionFailedError: lambda cls: cls("refused", connected=False, **CTX),
    UnsupportedContentError: lambda cls: cls("audio", index=3, block_type="audio", **CTX),
    llamaindex_azure_gateway.InvalidToolCallError: lambda cls: cls("call_1", "get_weather", "{bad", "not JSON"),
    llamaindex_azure_gateway.ModelRefusalError: lambda cls: cls("refused", refusal="no", output_type="Person"),
}


def all_error_classes() -> list[type[GatewayError]]:
    seen: list[type[GatewayError]] = []
    todo: list[type[GatewayError]] = [GatewayError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def sample(cls: type[GatewayError]) -> GatewayError:
    owner = next(c for c in cls.__mro__ if "__init__" in vars(c))
    factory = SAMPLES.get(owner)
    assert factory is not None, f"{owner.__qualname__} has its own __init__: add a sample to SAMPLES"
    return factory(cls)


def roundtrips(error: GatewayError) -> Iterator[tuple[str, GatewayError]]:
    yield "pickle", pickle.loads(pickle.dumps(error))
    yield "copy", copy.copy(error)
    yield "deepcopy", copy.deepcopy(error)


def test_errors_every_class_found_includes_the_framework_packages() -> None:
    names = {c.__name__ for c in all_error_classes()}
    assert {"AzureRateLimitError", "InvalidToolCallError", "NoToolCallError", "UnsupportedContentError"} <= names
    assert len(names) >= 30


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_errors_every_class_pickles_and_copies_with_its_fields(cls: type[GatewayError]) -> None:
    error = sample(cls)
    fields = vars(error)
    assert fields, "the sample sets no field"
    for how, clone in roundtrips(error):
        assert type(clone) is cls, how
        assert clone.args == error.args, how
        assert vars(clone) == fields, how
        assert str(clone) == str(error), how
        assert repr(clone) == repr(error), how


def test_errors_pickle_keeps_partial_output_and_filter_details() -> None:
    error = SAMPLES[ContentFilterError](ContentFilterError)
    clone = pickle.loads(pickle.dumps(error))
    assert isinstance(clone, ContentFilterError)
    assert (clone.side, clone.filtered_categories, clone.partial_text) == ("completion", ("hate",), "so far")
    assert clone.request_id == "req-123"


def test_errors_missing_extra_still_an_import_error_after_pickle() -> None:
    clone = pickle.loads(pickle.dumps(MissingExtraError("LangChain support", "langchain", "langchain_core")))
    assert isinstance(clone, ImportError)
    assert (clone.extra, clone.module) == ("langchain", "langchain_core")
    assert "pip install 'azure-openai-gateway[langchain]'" in str(clone)


def test_errors_400_classes_are_bad_requests() -> None:
    assert issubclass(ContextLengthExceededError, BadRequestError)
    assert issubclass(UnsupportedParameterError, BadRequestError)
    assert issubclass(DeploymentNotFoundError, NotFoundError)
    assert not issubclass(NotFoundError, BadRequestError)


def test_errors_transient_base_groups_what_a_caller_may_retry() -> None:
    transient = {c for c in all_error_classes() if issubclass(c, TransientError)}
    core = {c for c in transient if c.__module__ == "shared_core.errors"}
    assert core == {
        TransientError,
        RateLimitError,
        ServerError,
        RequestTimeoutError,
        ConnectionFailedError,
        StreamInterruptedError,
    }
    for never in (BadRequestError, NotFoundError, ContentFilterError, ConfigurationError, ConversationError):
        assert not issubclass(never, TransientError)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (404, b'{"error":{"code":"DeploymentNotFound","message":"The API deployment does not exist."}}', None),
        (404, b'{"error":{"code":"404","message":"Resource not found"}}', NotFoundError),
        (404, b"", NotFoundError),
    ],
)
def test_errors_404_is_not_found(status: int, body: bytes, cls: type[GatewayError] | None) -> None:
    error = error_from_response(status, {"apim-request-id": "req-9"}, body, RequestContext(deployment="d"))
    assert isinstance(error, NotFoundError)
    assert type(error) is (cls or DeploymentNotFoundError)
    assert error.request_id == "req-9"


def test_errors_content_azure_cannot_carry_is_one_class_in_every_layer() -> None:
    raised: list[UnsupportedContentError] = []
    target = ResolvedDeployment("gpt-4o-mini", "chat-dep", "gpt-4o-mini", "explicit", profile_for("gpt-4o-mini"))
    request = ChatRequest((Message("assistant", (ImagePart("https://x/a.png"),)),))
    with pytest.raises(UnsupportedContentError) as core_info:
        encode_request(request, target, api_version="2024-10-21", stream=False)
    raised.append(core_info.value)
    with pytest.raises(UnsupportedContentError) as lc_info:
        lc_to_core([HumanMessage([{"type": "video", "base64": "AAAA", "mime_type": "video/mp4"}])])
    raised.append(lc_info.value)
    video = ChatMessage(role="user", blocks=[TextBlock(text="hi"), VideoBlock(url="https://example.com/v.mp4")])
    with pytest.raises(UnsupportedContentError) as li_info:
        li_to_core([video])
    raised.append(li_info.value)
    assert {type(e) for e in raised} == {UnsupportedContentError}
    assert [e.block_type for e in raised] == ["image", "video", "video"]
    assert all(isinstance(e, ConversationError | ValueError) for e in raised)
