"""The fault matrix (issue 9): one named test per fault Azure users hit, against loopback emulators.

Each scenario runs through the gateway and, where the framework adds behaviour (streams, errors, tool calls,
histories, retries), through LangChain's ``AzureGatewayChatModel`` and LlamaIndex's ``AzureGatewayLLM`` too, in
every mode (complete / acomplete / stream / astream) unless the row says otherwise. Counts are the emulator's.
``tests/faults/test_matrix.py`` checks that this table and the test modules name the same tests.

Scenario → test (module::name) → what is asserted. ``[xfail]`` marks a strict xfail: a bug, fix in the reason.

01. 429 storm with each Retry-After header
    → test_rate_limits::test_fault_429_storm_honours_each_retry_after_header
    → test_rate_limits::test_fault_429_storm_honours_whole_seconds_retry_after
    ✓ three 429s then the answer; every wait ≥ what the header (retry-after-ms, x-ms-retry-after-ms,
      retry-after in whole seconds) asked, read from that header; exactly storm + 1 attempts.
02. Retry-After longer than the deadline
    → test_rate_limits::test_fault_retry_after_beyond_deadline_fails_at_once_with_the_wait
    ✓ RateLimitError (LangChain: also ModelRateLimitError) at once carrying retry_after=120; one attempt.
03. Every deployment cooling down
    → test_rate_limits::test_fault_every_deployment_cooling_down_waits_for_the_first_back
    → test_rate_limits::test_fault_every_deployment_cooling_down_beyond_deadline_fails_at_once_with_the_shortest_wait
    ✓ three throttled regions: each tried once, then the call waits for the shortest Retry-After (never less)
      and succeeds there; beyond the deadline it fails at once with that wait and the next call sends nothing.
04. Regional outage (connection refused, DNS failure, 503) with priority failover
    → test_outages::test_fault_regional_outage_fails_over_by_priority
    → test_outages::test_fault_regional_outage_lasting_many_calls_keeps_answering
    → test_outages::test_fault_dns_failure_is_a_typed_connection_failure
    → test_outages::test_fault_connection_refused_is_a_typed_connection_failure
    → test_outages::test_fault_regional_outage_everywhere_fails_typed_listing_each_region
    ✓ the next region by priority answers; one failover event, free for refused/DNS, paid for a 503; a long
      outage is remembered (the region leaves "healthy"); https://nonexistent.invalid is a ConnectionFailedError
      (LangChain: ModelConnectionError) in every channel and mode; all regions down is one typed error.
05. Failover after a timeout happens once and is reported
    → test_outages::test_fault_failover_after_a_timeout_happens_once_and_is_reported
    ✓ east and west time out: one provider:failover (east→west, free=False, RequestTimeoutError, "bill"),
      west retried, north never asked.
06. Stream cut mid-way
    → test_streams::test_fault_stream_cut_mid_way_reports_partial_without_replay_or_duplicates
    → test_streams::test_fault_stream_cut_mid_way_is_not_replayed_on_a_sibling_region
    ✓ StreamInterruptedError with partial "alpha beta" (LangChain: partial_message); pieces received once, in
      order; one request, no failover to a sibling once output was seen. Both API shapes.
07. Stream that ends without a terminal event
    → test_streams::test_fault_stream_without_terminal_event_is_interrupted_with_partial
    ✓ a clean close before [DONE] / response.completed is StreamInterruptedError "terminal event", partial kept.
08. Azure's empty-choices first chunk
    → test_streams::test_fault_empty_choices_first_chunk_gives_no_empty_token_and_keeps_its_verdicts
    ✓ no empty token; first piece is the first word; prompt_filter_results kept in the result.
09. Filter annotation chunks with no delta
    → test_streams::test_fault_filter_annotation_chunks_without_delta_are_kept_and_emit_nothing
    ✓ chunks with delta absent or null emit no piece; their verdicts reach the result's content filter results.
10. Content filter mid-stream
    → test_streams::test_fault_content_filter_mid_stream_raises_typed_with_partial
    ✓ ContentFilterError side=completion, partial "one two", category named (chat); not retried; both shapes.
11. Prompt rejected by the filter
    → test_requests::test_fault_prompt_rejected_by_filter_is_typed_and_not_retried
    → test_requests::test_fault_prompt_rejected_by_filter_is_not_failed_over
    ✓ ContentFilterError side=prompt, 400 content_filter, no partial; one request; no sibling asked.
12. Token expiring during a long session
    → test_identity::test_fault_token_expiring_during_long_session_is_refreshed_not_failed
    → test_identity::test_fault_token_revoked_during_long_session_is_refreshed_once_per_expiry
    ✓ 1.5 s tokens over a 4.5 s session: every call answered, never a 401, ≥ 3 tokens used; a token Azure stops
      accepting costs exactly one 401 and one token fetch, never a failed call (all three channels).
13. Slow identity endpoint
    → test_identity::test_fault_slow_identity_endpoint_keeps_the_event_loop_responsive
    ✓ a 400 ms token endpoint, ten concurrent async calls: one fetch, all answered, the loop's longest stall
      (ticker task, printed) < 100 ms (all three channels).
14. Malformed and truncated tool-call JSON
    → test_tool_calls::test_fault_malformed_and_truncated_tool_call_json_is_reported_never_run
    ✓ no runnable call; one invalid call with the exact raw text; valid JSON (the control) gives the call.
      LangChain stream/astream: the closing chunk makes LangChain's fold see the truncated call as invalid;
      the exact text is in response_metadata["invalid_tool_call_arguments"] (issue 12).
15. Dangling tool call and orphan tool output (both API shapes; repair idempotent over several turns)
    → test_tool_calls::test_fault_dangling_tool_call_and_orphan_output_are_repaired_the_same_every_turn
    → test_tool_calls::test_azure_tool_sequence_rule_refuses_what_azure_refuses
    → test_tool_calls::test_fault_dangling_tool_call_with_repair_off_is_a_conversation_error_before_any_request
    ✓ the emulator applies Azure's pairing rule (400 otherwise): four turns accepted; each turn's history is
      the previous one's plus the new turn (same repairs, nothing accumulated); one identical repair event per
      turn (orphan removed, missing result inserted); repair off: ConversationError (also a ValueError) naming
      the call, nothing sent (gateway and LangChain; LlamaIndex's LLM always repairs).
16. max_tokens refused by a reasoning deployment
    → test_requests::test_fault_max_tokens_on_reasoning_deployment_is_sent_as_max_completion_tokens
    → test_requests::test_fault_max_tokens_forced_on_reasoning_deployment_is_typed_unsupported_parameter
    ✓ named or mapped gpt-5-mini deployment: max_completion_tokens sent, answered; max_tokens forced through
      extra_body: UnsupportedParameterError parameter=max_tokens, one request (LangChain too).
17. Unsupported temperature
    → test_requests::test_fault_unsupported_temperature_is_dropped_with_an_event
    → test_requests::test_fault_unsupported_temperature_forced_is_typed_and_not_retried
    → test_requests::test_fault_unsupported_temperature_on_unmapped_reasoning_deployment_is_typed_and_not_retried
    → test_requests::test_fault_unsupported_temperature_on_unmapped_reasoning_deployment_names_the_fix
    ✓ dropped with a provider:parameter_adjusted event when the model is known; forced or unknown: typed,
      parameter=temperature, one request. The message names deployment_models as the fix.
18. Context length exceeded
    → test_requests::test_fault_context_length_exceeded_is_typed_and_not_retried
    → test_requests::test_fault_context_length_exceeded_is_not_failed_over
    ✓ ContextLengthExceededError (LangChain: ContextOverflowError) quoting Azure's limit; one request.
19. Expired previous_response_id on Responses
    → test_requests::test_fault_expired_previous_response_id_is_typed_and_not_retried
    ✓ BadRequestError code=previous_response_not_found naming the id; sent once, with the chain (no silent
      retry without the conversation).
20. Retry amplification
    → test_rate_limits::test_fault_retry_amplification_makes_exactly_max_retries_plus_one_attempts
    → test_rate_limits::test_fault_retry_amplification_over_a_route_is_bounded_by_deployments_plus_retries
    ✓ persistent 429 / 503, max_retries 0 and 3: exactly max_retries + 1 HTTP attempts in every channel and
      mode; over three regions exactly 3 + max_retries.
21. An HTML error page from a proxy
    → test_bodies::test_fault_html_error_page_from_a_proxy_is_a_retried_server_error_naming_the_proxy
    → test_bodies::test_fault_html_refusal_from_a_corporate_proxy_is_typed_and_not_retried
    ✓ 502 page: ServerError naming the proxy and the page title, no request id, retried; 403 page: typed,
      title not page, one request.
22. 200 with an unparsable body
    → test_bodies::test_fault_200_with_unparsable_body_is_invalid_response
    → test_bodies::test_fault_200_with_unparsable_stream_is_interrupted_by_invalid_response
    ✓ InvalidResponseError status 200 naming a proxy, one request (LangChain too); streams:
      StreamInterruptedError caused by it (an HTML page: no event at all, so no terminal event).
23. A client passed in by the user that is closed
    → test_bodies::test_fault_closed_user_client_is_a_configuration_error_before_any_request
    ✓ ConfigurationError naming http_client and "closed"; no request sent.

Process safety and connection lifecycle (issue 12), against the emulator or a byte-scripted loopback server
(``raw_server.py``); sockets are counted from this process's ESTABLISHED connections (``sockets.py``):

Connections released and reused
    → test_stream_lifecycle::test_a_stream_abandoned_anywhere_releases_its_connection
    → test_stream_lifecycle::test_an_async_stream_abandoned_anywhere_releases_its_connection
    → test_stream_lifecycle::test_an_async_stream_cancelled_while_an_error_body_stalls_releases_its_connection
    → test_stream_lifecycle::test_sequential_streams_reuse_one_connection
    → test_stream_lifecycle::test_sequential_async_streams_reuse_one_connection
    ✓ 1,000 streams stopped before, at and after the first event, mid-text, mid-tool-call (pool of five, no idle
      connection kept): none left ESTABLISHED, the next call succeeds; 20 sequential streams open at most 2.
The deadline bounds the whole call
    → test_deadline::test_deadline_bounds_a_503_then_a_hang
    → test_deadline::test_deadline_bounds_a_route_where_every_region_hangs
    → test_deadline::test_deadline_bounds_a_trickling_body
    → test_deadline::test_a_retry_after_longer_than_the_time_left_fails_at_once
    → test_deadline::test_the_deadline_is_a_setting_read_from_kwargs_file_and_environment
    → test_deadline::test_both_framework_classes_take_the_deadline
    ✓ a 0.8 s deadline with a 60 s timeout, four modes: wall time within deadline + 0.25 s; the error names the
      deadline (code "deadline") and lists every attempt; nothing is sent after it.
Keep-alives, trailing bytes and error events in a stream
    → test_stream_keepalive::test_keepalives_and_trailing_bytes_leave_a_finished_stream_whole
    → test_stream_keepalive::test_keepalives_and_trailing_bytes_leave_a_finished_async_stream_whole
    → test_stream_keepalive::test_an_error_event_inside_the_stream_keeps_the_partial_answer
    ✓ empty data:, event: ping, comments and bytes after [DONE] are ignored; an error event is a
      StreamInterruptedError with the partial answer, deployment, request id and Azure's code.
A user's AsyncClient from a closed event loop
    → test_client_loops::test_an_async_client_reused_from_a_second_asyncio_run_names_the_closed_loop
    ✓ ConfigurationError saying the client is bound to a closed loop and how to fix it.
A gateway repeating the tool name in every delta
    → test_tool_call_names::test_langchain_streams_a_repeated_tool_name_once
    ✓ LangChain's folded stream names get_weather once.
Bad input
    → test_bad_input::test_bad_input_is_a_typed_error_naming_the_field_before_anything_is_sent
    ✓ NaN/Infinity, lone surrogates, deep nesting, non-JSON values: typed error naming the field, nothing sent.
One validation path for endpoints
    → test_endpoint_validation::test_a_bad_endpoint_url_is_refused_whatever_the_form
    → test_endpoint_validation::test_a_bad_endpoint_url_is_refused_in_a_config_file
    → test_endpoint_validation::test_an_endpoint_object_is_normalised_as_a_table_is
    → test_endpoint_validation::test_an_endpoint_object_with_a_bad_deployment_name_is_refused
    → test_endpoint_validation::test_an_unknown_key_in_an_endpoint_table_names_the_nearest_one
    → test_endpoint_validation::test_langchain_never_writes_a_mistyped_endpoint_secret_out
    → test_endpoint_validation::test_llamaindex_refuses_a_mistyped_endpoint_key_when_built
    ✓ objects, tables, files: plain http off loopback, userinfo, query/fragment, bad paths refused; unknown
      table keys name the nearest one; a mistyped secret never reaches repr or dumps.
"""
