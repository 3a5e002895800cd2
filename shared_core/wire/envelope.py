"""What a codec hands the transport: the path, query and JSON body of one request, and the route family.

Codecs do not know hosts or credentials; the transport joins the endpoint to ``path`` and adds auth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared_core.messages import JsonValue

__all__ = ["EncodedRequest", "RouteFamily", "route_family"]

RouteFamily = Literal["classic", "v1"]
"""``classic``: ``/openai/deployments/{d}/...?api-version=`` (and ``/openai/responses?api-version=``);
``v1``: the GA ``/openai/v1/...`` routes, where ``model`` carries the deployment name."""


def route_family(api_version: str) -> RouteFamily:
    """``v1`` when the api-version is ``v1`` (or ``latest``/``preview`` on the v1 surface), else ``classic``."""
    return "v1" if api_version.lower() in {"v1", "latest", "preview"} else "classic"


@dataclass(frozen=True, slots=True)
class EncodedRequest:
    """One HTTP request, minus host and credentials.

    Attributes:
        path: The URL path, starting with ``/openai/``.
        query: Query parameters (``api-version`` on classic routes).
        body: The JSON body.
        stream: Whether the response will be a server-sent event stream.
        api: ``chat`` or ``responses``: which decoder reads the answer.
        deployment: The deployment the request is for.
        warnings: Adjustments made while encoding (a dropped ``temperature`` ...), each naming the model.
    """

    path: str
    query: Mapping[str, str]
    body: Mapping[str, JsonValue]
    stream: bool
    api: Literal["chat", "responses"]
    deployment: str
    warnings: tuple[str, ...] = field(default=())
