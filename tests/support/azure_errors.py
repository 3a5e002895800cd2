"""Re-exports :mod:`azure_openai_emulator.error_bodies` under its old test-support name."""

from __future__ import annotations

from azure_openai_emulator.error_bodies import (
    bad_gateway_html,
    base_headers,
    chat_prompt_filter_error,
    deployment_headers,
    deployment_not_found_error,
    rate_limit_error,
    resource_not_found_error,
    responses_prompt_filter_error,
    server_error,
    service_unavailable_error,
    success_headers,
    unauthorized_error,
    unknown_model_error,
    unsupported_parameter_error,
)

__all__ = [
    "bad_gateway_html",
    "base_headers",
    "chat_prompt_filter_error",
    "deployment_headers",
    "deployment_not_found_error",
    "rate_limit_error",
    "resource_not_found_error",
    "responses_prompt_filter_error",
    "server_error",
    "service_unavailable_error",
    "success_headers",
    "unauthorized_error",
    "unknown_model_error",
    "unsupported_parameter_error",
]
