"""The names the gateway's telemetry uses: the GenAI semantic conventions' and its own.

The conventions' names are copied from ``opentelemetry-semantic-conventions`` so that only ``opentelemetry-api``
is needed at run time; ``tests/otel/test_telemetry_names.py`` checks each one against the installed package.
Names the conventions lack (deployment, endpoint name, cost, attempts, failover...) are ours, under
``azure.openai.``.
"""

from __future__ import annotations

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
OPENAI_API_TYPE = "openai.api.type"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"
AZURE_RESOURCE_PROVIDER_NAMESPACE = "azure.resource_provider.namespace"
AZURE_SERVICE_REQUEST_ID = "azure.service.request.id"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
GEN_AI_CLIENT_OPERATION_DURATION = "gen_ai.client.operation.duration"
GEN_AI_CLIENT_TOKEN_USAGE = "gen_ai.client.token.usage"
GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
PROVIDER_AZURE_OPENAI = "azure.ai.openai"  # GenAiProviderNameValues.AZURE_AI_OPENAI
OPERATION_CHAT = "chat"  # GenAiOperationNameValues.CHAT
TOKEN_INPUT, TOKEN_OUTPUT = "input", "output"  # GenAiTokenTypeValues
API_TYPES = {"chat": "chat_completions", "responses": "responses"}  # OpenaiApiTypeValues
# Ours: the conventions have no name for them.
GW_DEPLOYMENT = "azure.openai.deployment"
GW_ENDPOINT_NAME = "azure.openai.endpoint.name"
GW_COST = "azure.openai.cost"
GW_COST_CURRENCY = "azure.openai.cost.currency"
GW_COST_REASON = "azure.openai.cost.reason"
GW_REPAIRS = "azure.openai.conversation_repairs"
GW_ATTEMPTS = "azure.openai.attempts"
GW_RETRIES = "azure.openai.retries"
GW_FAILOVER = "azure.openai.failover"
GW_ERROR_CODE = "azure.openai.error.code"
GW_FILTERED_SIDE = "azure.openai.content_filter.side"
GW_FILTERED_CATEGORIES = "azure.openai.content_filter.categories"
GW_STREAM_OUTCOME = "azure.openai.stream.outcome"
GW_COST_METRIC = "azure.openai.client.cost"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
