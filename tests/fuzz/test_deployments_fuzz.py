"""Deployment names over arbitrary text: what is accepted can never change the shape of the request URL.

Properties: ``validate_deployment_name`` accepts a name or raises :class:`ConfigurationError` naming the
source; an accepted name holds no ``/``, ``?``, ``#``, ``..``, whitespace or percent sign, and the Chat Completions
request for it has exactly the path ``/openai/deployments/{name}/chat/completions``, also as httpx and yarl
(aiohttp) parse it. ``DeploymentMap.resolve`` over arbitrary maps and requests ends in a resolved, valid
deployment or a ConfigurationError.
"""

from __future__ import annotations

import string
from urllib.parse import quote

import httpx
import yarl
from hypothesis import event, given
from hypothesis import strategies as st

from shared_core.deployments import DeploymentMap, profile_for, validate_deployment_name
from shared_core.errors import ConfigurationError
from shared_core.messages import Message
from shared_core.request import ChatRequest
from shared_core.wire.chat_completions import encode_request
from tests.fuzz.json_values import any_text

_tricky = [*"/?#%.:@\\ \t\n\r\x00\u00a0\u2028\uff0f\u0130\u212a", "..", "%2F", "%2e%2e", "azure/"]
names = (
    st.text(st.sampled_from(list(string.ascii_letters + string.digits + "._-")), max_size=70)
    | st.lists(st.sampled_from([*string.ascii_lowercase, "-", "_", ".", *_tricky]), max_size=20).map("".join)
    | any_text
)
_ENDPOINT = "https://example-resource.openai.azure.com"
_REQUEST = ChatRequest(messages=(Message.user("hi"),))


def _accepted(name: str) -> bool:
    try:
        assert validate_deployment_name(name, "fuzz source") == name
    except ConfigurationError as error:
        assert "fuzz source" in str(error)
        event("rejected")
        return False
    event("accepted")
    return True


def _check_safe(name: str) -> None:
    assert 1 <= len(name) <= 64 and name.isascii()
    for bad in ("/", "?", "#", "..", "%", "\\"):
        assert bad not in name, (bad, name)
    assert not any(c.isspace() or not c.isprintable() for c in name)
    assert quote(name, safe="") == name, "an accepted name needs no escaping in a URL path"


def _check_path(name: str, stream: bool) -> None:
    target = DeploymentMap(default_deployment=name).resolve(None)
    encoded = encode_request(_REQUEST, target, api_version="2024-10-21", stream=stream)
    expected = f"/openai/deployments/{name}/chat/completions"
    assert encoded.path == expected
    assert encoded.path.split("/") == ["", "openai", "deployments", name, "chat", "completions"]
    assert httpx.URL(_ENDPOINT + encoded.path).path == expected
    assert yarl.URL(_ENDPOINT + encoded.path).path == expected
    assert yarl.URL(_ENDPOINT + encoded.path).host == "example-resource.openai.azure.com"


@given(names, st.booleans())
def test_validate_deployment_name_accepted_names_keep_the_path_shape(name: str, stream: bool) -> None:
    if _accepted(name):
        _check_safe(name)
        _check_path(name, stream)


_maps = st.dictionaries(names, names, max_size=3)


@given(
    mapping=_maps,
    default_deployment=st.none() | names,
    default_model=st.none() | names,
    deployment_models=_maps,
    data=st.data(),
)
def test_deployment_map_resolve_arbitrary_names_is_valid_deployment_or_configuration_error(
    mapping: dict[str, str],
    default_deployment: str | None,
    default_model: str | None,
    deployment_models: dict[str, str],
    data: st.DataObject,
) -> None:
    mapped = st.sampled_from(sorted(mapping)) if mapping else st.nothing()
    requested = data.draw(st.none() | names | mapped | mapped.map(lambda n: "azure/" + n), label="requested")
    deployments = DeploymentMap(mapping, default_deployment, default_model, deployment_models)
    try:
        resolved = deployments.resolve(requested)
    except ConfigurationError:
        event("ConfigurationError")
        return
    event(f"resolved by rule {resolved.rule}")
    _check_safe(resolved.deployment)
    assert resolved.profile == profile_for(resolved.model)
    if resolved.rule == "explicit":
        assert resolved.deployment in mapping.values()
    elif resolved.rule == "default":
        assert resolved.deployment == default_deployment
    _check_path(resolved.deployment, stream=False)
