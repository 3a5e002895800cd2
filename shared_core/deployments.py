"""Which deployment a request goes to, and what the model behind it accepts.

Resolution order: an explicit ``deployment_mapping`` entry > the default deployment > pass-through (the
requested name is the deployment). We keep the model name as well as the deployment: parameter rules, costs
and tracing key on the model, the URL on the deployment. Model profiles are a small table of facts per model
family; users declare the base model of a deployment whose name says nothing (``deployment_models``).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from shared_core.errors import ConfigurationError

__all__ = [
    "DeploymentMap",
    "ModelProfile",
    "ResolvedDeployment",
    "profile_for",
    "validate_deployment_name",
]

_log = logging.getLogger("shared_core.deployments")

# Azure allows letters, digits, '-', '_' and '.' in deployment names (portal rule; 2-64 characters).
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RESOLVED_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Facts about a model family that decide how a request is encoded.

    Attributes:
        family: The table row that matched (``gpt-4o``, ``o3``, ``gpt-5`` ... or ``unknown``).
        reasoning: An o-series / gpt-5 reasoning model.
        context_window: Input + output tokens.
        max_output_tokens: The largest output the model can give.
        accepts_temperature: Whether ``temperature`` other than the default is accepted.
        accepts_top_p: Whether ``top_p`` other than the default is accepted.
        token_limit_param: The Chat Completions parameter this model needs regardless of api-version
            (``max_completion_tokens`` for reasoning models), or ``None`` to decide by api-version.
        supports_json_schema: ``response_format: json_schema`` is accepted.
        supports_tools: Function tools are accepted.
        supports_vision: Image inputs are accepted.
        supports_reasoning_effort: ``reasoning_effort`` is accepted.
    """

    family: str
    reasoning: bool = False
    context_window: int = 128_000
    max_output_tokens: int = 16_384
    accepts_temperature: bool = True
    accepts_top_p: bool = True
    token_limit_param: Literal["max_tokens", "max_completion_tokens"] | None = None
    supports_json_schema: bool = True
    supports_tools: bool = True
    supports_vision: bool = True
    supports_reasoning_effort: bool = False


def _reasoning(family: str, context: int, output: int, *, vision: bool = True) -> ModelProfile:
    return ModelProfile(
        family=family,
        reasoning=True,
        context_window=context,
        max_output_tokens=output,
        accepts_temperature=False,
        accepts_top_p=False,
        token_limit_param="max_completion_tokens",
        supports_vision=vision,
        supports_reasoning_effort=True,
    )


# Longest prefix wins; names are normalised (lower case, '.' and '_' kept) before matching.
_PROFILES: dict[str, ModelProfile] = {
    "gpt-35-turbo": ModelProfile(
        "gpt-35-turbo",
        context_window=16_385,
        max_output_tokens=4_096,
        supports_json_schema=False,
        supports_vision=False,
    ),
    "gpt-3.5-turbo": ModelProfile(
        "gpt-35-turbo",
        context_window=16_385,
        max_output_tokens=4_096,
        supports_json_schema=False,
        supports_vision=False,
    ),
    "gpt-4": ModelProfile(
        "gpt-4",
        context_window=8_192,
        max_output_tokens=4_096,
        supports_json_schema=False,
        supports_vision=False,
    ),
    "gpt-4-32k": ModelProfile(
        "gpt-4",
        context_window=32_768,
        max_output_tokens=4_096,
        supports_json_schema=False,
        supports_vision=False,
    ),
    "gpt-4-turbo": ModelProfile(
        "gpt-4-turbo", context_window=128_000, max_output_tokens=4_096, supports_json_schema=False
    ),
    "gpt-4o": ModelProfile("gpt-4o", context_window=128_000, max_output_tokens=16_384),
    "gpt-4o-mini": ModelProfile("gpt-4o-mini", context_window=128_000, max_output_tokens=16_384),
    "gpt-4.1": ModelProfile("gpt-4.1", context_window=1_047_576, max_output_tokens=32_768),
    "gpt-4.1-mini": ModelProfile("gpt-4.1-mini", context_window=1_047_576, max_output_tokens=32_768),
    "gpt-4.1-nano": ModelProfile("gpt-4.1-nano", context_window=1_047_576, max_output_tokens=32_768),
    "gpt-4.5": ModelProfile("gpt-4.5", context_window=128_000, max_output_tokens=16_384),
    "o1-mini": _reasoning("o1-mini", 128_000, 65_536, vision=False),
    "o1": _reasoning("o1", 200_000, 100_000),
    "o3-mini": _reasoning("o3-mini", 200_000, 100_000, vision=False),
    "o3": _reasoning("o3", 200_000, 100_000),
    "o4-mini": _reasoning("o4-mini", 200_000, 100_000),
    "gpt-5": _reasoning("gpt-5", 400_000, 128_000),
    "gpt-5-mini": _reasoning("gpt-5-mini", 400_000, 128_000),
    "gpt-5-nano": _reasoning("gpt-5-nano", 400_000, 128_000),
    "gpt-5-chat": ModelProfile(
        "gpt-5-chat",
        context_window=128_000,
        max_output_tokens=16_384,
        token_limit_param="max_completion_tokens",
    ),
    "gpt-5.1": _reasoning("gpt-5.1", 400_000, 128_000),
    "gpt-5.2": _reasoning("gpt-5.2", 400_000, 128_000),
}

UNKNOWN_PROFILE = ModelProfile("unknown")


@functools.lru_cache(maxsize=256)
def profile_for(model: str | None) -> ModelProfile:
    """The profile of a model name (versioned names like ``gpt-4o-mini-2024-07-18`` included).

    Unknown names get a permissive default profile (``family='unknown'``): no rule is applied that the
    table cannot justify. Cached: the table is fixed, and a failover route asks per deployment per call.
    """
    if not model:
        return UNKNOWN_PROFILE
    name = model.lower().removeprefix("azure/")
    best = ""
    for prefix in _PROFILES:
        if len(prefix) > len(best) and _prefix_matches(name, prefix):
            best = prefix
    return _PROFILES[best] if best else UNKNOWN_PROFILE


def _prefix_matches(name: str, prefix: str) -> bool:
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix) :]
    # "gpt-4o" must not match "gpt-4ox"; "gpt-5" matches "gpt-5-2025-08-07" and "gpt-5_2025-08-07".
    return rest == "" or rest[0] in "-_:@"


def validate_deployment_name(name: str, source: str) -> str:
    """Check a deployment name is one Azure allows and cannot change the URL path.

    Raises:
        ConfigurationError: Naming ``source`` and the rule broken.
    """
    if not _DEPLOYMENT_NAME.fullmatch(name) or ".." in name:
        raise ConfigurationError(
            f"deployment name {name!r} is not valid",
            source=source,
            fix="use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit "
            "(no '/', '?', '#', '..' or spaces); it must match the deployment's name in the Azure portal",
        )
    return name


@dataclass(frozen=True, slots=True)
class ResolvedDeployment:
    """The answer to "which deployment, for which model".

    Attributes:
        requested: What the caller asked for (``None`` when they asked for nothing).
        deployment: The deployment name that goes in the URL (or ``model`` on /openai/v1).
        model: The model behind it, for rules, costs and tracing (``None`` when unknown).
        rule: Which rule decided: ``explicit`` mapping, ``default`` deployment, or ``pass-through``.
        profile: The model's profile.
    """

    requested: str | None
    deployment: str
    model: str | None
    rule: Literal["explicit", "default", "pass-through"]
    profile: ModelProfile


@dataclass(frozen=True, slots=True)
class DeploymentMap:
    """Resolves requested model names to deployments.

    Attributes:
        mapping: Model name -> deployment name (explicit rule).
        default_deployment: Used when the request names no model, or a model not in ``mapping``.
        default_model: The model assumed when the request names none.
        deployment_models: Deployment name -> base model, for deployments whose name says nothing
            (``prod-chat`` -> ``gpt-4o``).
    """

    mapping: Mapping[str, str] = field(default_factory=lambda: {})
    default_deployment: str | None = None
    default_model: str | None = None
    deployment_models: Mapping[str, str] = field(default_factory=lambda: {})
    # Every call resolves its model: about 10 µs with profile_for's prefix scan (benchmarks/README.md hot
    # spot 4). The map is frozen (its mappings are copied below), so each name's answer is kept. A dict's
    # get and set are atomic, so threads at worst resolve a name twice.
    _resolved: dict[str | None, ResolvedDeployment] = field(
        default_factory=lambda: {}, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "mapping", MappingProxyType(dict(self.mapping)))
        object.__setattr__(self, "deployment_models", MappingProxyType(dict(self.deployment_models)))

    def resolve(self, requested: str | None) -> ResolvedDeployment:
        """Resolve a requested model (or deployment) name.

        Raises:
            ConfigurationError: Nothing was requested and there is no default deployment or model.
        """
        resolved = self._resolved.get(requested)
        if resolved is None:
            resolved = self._resolve(requested)
            if len(self._resolved) >= _RESOLVED_CACHE_SIZE:
                self._resolved.clear()  # requested names come from code and configuration; this bounds a leak
            self._resolved[requested] = resolved
        _log.debug(
            "deployment %r for requested %r by rule %s (model %r, profile %s)",
            resolved.deployment,
            requested,
            resolved.rule,
            resolved.model,
            resolved.profile.family,
        )
        return resolved

    def _resolve(self, requested: str | None) -> ResolvedDeployment:
        name = requested.removeprefix("azure/") if requested else None
        key = name or self.default_model
        rule: Literal["explicit", "default", "pass-through"]
        if key and key in self.mapping:
            deployment, rule, model = self.mapping[key], "explicit", key
        elif self.default_deployment:
            deployment, rule, model = self.default_deployment, "default", self.default_model or name
        elif key:
            deployment, rule, model = key, "pass-through", key
        else:
            raise ConfigurationError(
                "no deployment: the request names no model and no default deployment is configured",
                fix="set AZURE_OPENAI_DEFAULT_DEPLOYMENT (or default_deployment / azure_deployment), "
                "or pass model=<deployment name>",
            )
        validate_deployment_name(deployment, f"deployment for {requested or 'the default model'!r}")
        model = self.deployment_models.get(deployment) or model or deployment
        return ResolvedDeployment(
            requested=requested,
            deployment=deployment,
            model=model,
            rule=rule,
            profile=profile_for(model),
        )
