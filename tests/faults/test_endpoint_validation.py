"""One validation path for every way an endpoint is given (issue 12 item 4).

``EndpointConfig`` objects skipped the checks tables got: an ``http://`` endpoint off loopback received the key
in cleartext, ``https://x.openai.azure.com@attacker.example`` sent the request to attacker.example, and
``?q=1#frag`` swallowed the route. Endpoint tables accepted unknown keys (``api-key`` for ``api_key``): the
region got another resource's key, and the mistyped secret was serialized in clear.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from shared_core import ConfigurationError, DeploymentConfig, EndpointConfig, load_config

BAD_URLS = {
    "plain http off loopback": "http://myresource.openai.azure.com",
    "userinfo hiding the real host": "https://myresource.openai.azure.com@attacker.example",
    "query and fragment": "https://myresource.openai.azure.com?q=1#frag",
    "unexpected path": "https://myresource.openai.azure.com/deployments/x",
}
SECRET = "sk-do-not-leak-0123456789"


def _object(url: str) -> EndpointConfig:
    return EndpointConfig("east", url, api_key=SecretStr(SECRET), deployments=(DeploymentConfig("gpt-4o"),))


def _table(url: str) -> dict[str, object]:
    return {"name": "east", "endpoint": url, "api_key": SECRET, "deployments": [{"name": "gpt-4o"}]}


@pytest.mark.parametrize("case", list(BAD_URLS))
@pytest.mark.parametrize("form", ["object", "table"])
def test_a_bad_endpoint_url_is_refused_whatever_the_form(case: str, form: str) -> None:
    url = BAD_URLS[case]
    item = _object(url) if form == "object" else _table(url)
    with pytest.raises(ConfigurationError) as caught:
        load_config(env={}, endpoints=[item])
    assert "endpoint" in caught.value.message and SECRET not in str(caught.value)


def test_a_bad_endpoint_url_is_refused_in_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[[endpoints]]\nname = "east"\nendpoint = "https://x.openai.azure.com@attacker.example"\n')
    with pytest.raises(ConfigurationError, match="credentials in the URL"):
        load_config(env={}, config_file=str(path))


def test_an_endpoint_object_is_normalised_as_a_table_is() -> None:
    config = load_config(env={}, endpoints=[_object("https://myresource.openai.azure.com/openai/")])
    assert config.endpoints[0].endpoint == "https://myresource.openai.azure.com"


def test_an_endpoint_object_with_a_bad_deployment_name_is_refused() -> None:
    bad = EndpointConfig("east", "https://x.openai.azure.com", deployments=(DeploymentConfig("../admin"),))
    with pytest.raises(ConfigurationError, match="deployments"):
        load_config(env={}, endpoints=[bad])


def test_an_unknown_key_in_an_endpoint_table_names_the_nearest_one() -> None:
    table = {"name": "east", "endpoint": "https://x.openai.azure.com", "api-key": SECRET}
    with pytest.raises(ConfigurationError) as caught:
        load_config(env={}, endpoints=[table])
    assert "unknown key 'api-key'" in str(caught.value) and "did you mean 'api_key'" in str(caught.value)
    assert SECRET not in str(caught.value)
    deployment = {"name": "east", "endpoint": "https://x.openai.azure.com", "deployments": [{"nmae": "gpt-4o"}]}
    with pytest.raises(ConfigurationError, match="did you mean 'name'"):
        load_config(env={}, endpoints=[deployment])


def test_langchain_never_writes_a_mistyped_endpoint_secret_out() -> None:
    from langchain_core.load import dumps

    from langchain_azure_gateway import AzureGatewayChatModel

    table = {"name": "east", "endpoint": "https://x.openai.azure.com", "api-key": SECRET}
    model = AzureGatewayChatModel(azure_endpoint="https://x.openai.azure.com", api_key="top", endpoints=[table])
    assert SECRET not in repr(model) and SECRET not in dumps(model)
    with pytest.raises(ConfigurationError, match="did you mean 'api_key'"):
        _ = model.gateway


def test_llamaindex_refuses_a_mistyped_endpoint_key_when_built() -> None:
    from llamaindex_azure_gateway import AzureGatewayLLM

    table = {"name": "east", "endpoint": "https://x.openai.azure.com", "api-key": SECRET}
    # LlamaIndex builds its gateway in model_post_init, so pydantic wraps the error in a ValidationError.
    with pytest.raises(ValueError, match="did you mean 'api_key'"):
        AzureGatewayLLM(azure_endpoint="https://x.openai.azure.com", api_key="top", engine="gpt-4o", endpoints=[table])
