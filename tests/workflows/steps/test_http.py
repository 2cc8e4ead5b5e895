import pytest

from tests.workflows.steps.conftest import Reply
from workflows.steps import get_step_type
from workflows.steps.base import StepError

http_step = get_step_type("http")
SECRET = "Bearer s3cr3t-token-value"


def echo_headers(request):
    """A reply that reflects the request headers, as debugging services do."""
    return Reply(json={"headers": request.headers}, headers={"X-Echo": request.headers.get("Authorization", "")})


# --- validation (definition time) ---


def test_valid_config_has_no_errors():
    config = {"method": "POST", "url": "https://example.com/hook", "json": {"a": 1}, "accept_status": [404]}
    assert http_step.validate_config(config) == {}


def test_templated_url_is_accepted_at_definition_time():
    assert http_step.validate_config({"url": "{{ input.callback }}"}) == {}


def test_url_is_required():
    assert http_step.validate_config({"method": "GET"}) == {"config.url": ["is required"]}


def test_non_http_url_is_rejected():
    assert http_step.validate_config({"url": "file:///etc/passwd"}) == {"config.url": ["must be an http or https URL"]}


def test_unknown_method_is_rejected():
    errors = http_step.validate_config({"url": "https://example.com", "method": "TRACE"})
    assert list(errors) == ["config.method"]


def test_json_and_body_together_are_rejected():
    errors = http_step.validate_config({"url": "https://example.com", "json": {}, "body": "x"})
    assert errors == {"config.body": ["give json or body, not both"]}


def test_header_values_must_be_strings():
    errors = http_step.validate_config({"url": "https://example.com", "headers": {"X-Count": 1}})
    assert list(errors) == ["config.headers.X-Count"]


def test_host_header_cannot_be_overridden():
    errors = http_step.validate_config({"url": "https://example.com", "headers": {"Host": "internal"}})
    assert list(errors) == ["config.headers.Host"]


def test_accept_status_must_hold_status_codes():
    errors = http_step.validate_config({"url": "https://example.com", "accept_status": [404, 99]})
    assert list(errors) == ["config.accept_status[1]"]


def test_a_huge_integer_timeout_is_out_of_range_not_a_crash():
    errors = http_step.validate_config({"url": "https://example.com/", "timeout": 10**400})
    assert errors == {"config.timeout": ["must be between 1 and 300"]}


def test_unknown_config_key_is_rejected():
    errors = http_step.validate_config({"url": "https://example.com", "verify": False})
    assert list(errors) == ["config.verify"]


def test_rendered_config_of_wrong_type_fails_the_step():
    with pytest.raises(StepError, match="invalid config after rendering: config.url"):
        http_step.run(config={"url": 42}, timeout=5)


# --- requests against a local server (allow-listed) ---


def test_get_returns_status_headers_and_parsed_json(server, allow_local):
    server.route("/data", Reply(json={"answer": 42}))
    output = http_step.run(config={"url": server.url("/data")}, timeout=5)
    assert (output["status_code"], output["json"], output["headers"]["content-type"]) == (
        200,
        {"answer": 42},
        "application/json",
    )


def test_text_response_has_null_json_and_the_text(server, allow_local):
    server.route("/plain", Reply(body=b"hello", headers={"Content-Type": "text/plain; charset=utf-8"}))
    output = http_step.run(config={"url": server.url("/plain")}, timeout=5)
    assert (output["json"], output["text"]) == (None, "hello")


def test_post_sends_json_body_and_query(server, allow_local):
    server.route("/hook", Reply(status=201, json={}))
    config = {"method": "POST", "url": server.url("/hook"), "json": {"text": "hi"}, "query": {"page": 2}}
    http_step.run(config=config, timeout=5)
    request = server.received[0]
    assert (request.method, request.path, request.json()) == ("POST", "/hook?page=2", {"text": "hi"})


def test_non_2xx_status_fails_without_retry(server, allow_local):
    server.route("/missing", Reply(status=404, body=b"not here"))
    with pytest.raises(StepError) as failure:
        http_step.run(config={"url": server.url("/missing")}, timeout=5)
    assert (failure.value.retryable, str(failure.value)) == (
        False,
        f"HTTP 404 from {server.url('/missing')}: not here",
    )


def test_server_error_is_retryable(server, allow_local):
    server.route("/boom", Reply(status=503))
    with pytest.raises(StepError) as failure:
        http_step.run(config={"url": server.url("/boom")}, timeout=5)
    assert failure.value.retryable is True


def test_too_many_requests_is_retryable_with_retry_after(server, allow_local):
    server.route("/slow-down", Reply(status=429, headers={"Retry-After": "7"}))
    with pytest.raises(StepError) as failure:
        http_step.run(config={"url": server.url("/slow-down")}, timeout=5)
    assert (failure.value.retryable, failure.value.retry_after_seconds) == (True, 7.0)


def test_status_listed_in_accept_status_succeeds(server, allow_local):
    server.route("/missing", Reply(status=404, json={"error": "none"}))
    output = http_step.run(config={"url": server.url("/missing"), "accept_status": [404]}, timeout=5)
    assert output["status_code"] == 404


def test_response_larger_than_the_cap_fails(server, allow_local):
    allow_local.WORKFLOW_HTTP_MAX_RESPONSE_BYTES = 1000
    server.route("/big", Reply(body=b"x" * 5000))
    with pytest.raises(StepError, match="larger than 1000 bytes"):
        http_step.run(config={"url": server.url("/big")}, timeout=5)


def test_response_without_content_length_is_capped_while_streaming(server, allow_local):
    allow_local.WORKFLOW_HTTP_MAX_RESPONSE_BYTES = 1000
    server.route("/chunked", Reply(body=b"y" * 5000, content_length=False))
    with pytest.raises(StepError, match="larger than 1000 bytes"):
        http_step.run(config={"url": server.url("/chunked")}, timeout=5)


def test_slow_server_times_out_as_retryable(server, allow_local):
    server.route("/slow", Reply(delay=2, body=b"late"))
    with pytest.raises(StepError, match="timed out after 0.5s") as failure:
        http_step.run(config={"url": server.url("/slow")}, timeout=0.5)
    assert failure.value.retryable is True


def test_connection_refused_is_retryable(server, allow_local):
    url = server.url("/")
    server.close()
    with pytest.raises(StepError, match="failed") as failure:
        http_step.run(config={"url": url}, timeout=2)
    assert failure.value.retryable is True


def test_echoed_authorization_header_is_scrubbed_from_output(server, allow_local):
    server.route("/echo", echo_headers)
    output = http_step.run(config={"url": server.url("/echo"), "headers": {"Authorization": SECRET}}, timeout=5)
    assert "s3cr3t-token-value" not in repr(output)


def test_authorization_header_is_sent_to_the_server(server, allow_local):
    server.route("/echo", echo_headers)
    http_step.run(config={"url": server.url("/echo"), "headers": {"Authorization": SECRET}}, timeout=5)
    assert server.received[0].headers["Authorization"] == SECRET


def test_set_cookie_and_credential_headers_are_dropped_from_output(server, allow_local):
    server.route("/login", Reply(body=b"ok", headers={"Set-Cookie": "session=abc", "X-Auth-Token": "t0k3n"}))
    output = http_step.run(config={"url": server.url("/login")}, timeout=5)
    assert {"set-cookie", "x-auth-token"} & set(output["headers"]) == set()


def test_error_message_does_not_contain_request_credentials(server, allow_local):
    server.route("/echo", lambda request: Reply(status=500, json={"seen": request.headers}))
    with pytest.raises(StepError) as failure:
        http_step.run(config={"url": server.url("/echo"), "headers": {"Authorization": SECRET}}, timeout=5)
    assert "s3cr3t-token-value" not in str(failure.value)


def test_error_message_leaves_out_the_query_string(server, allow_local):
    server.route("/missing", Reply(status=404))
    with pytest.raises(StepError) as failure:
        http_step.run(config={"url": server.url("/missing?api_key=hunter22")}, timeout=5)
    assert "hunter22" not in str(failure.value)


def test_redirect_is_followed(server, allow_local):
    server.route("/old", Reply(status=302, headers={"Location": "/new"}))
    server.route("/new", Reply(json={"moved": True}))
    output = http_step.run(config={"url": server.url("/old")}, timeout=5)
    assert output["json"] == {"moved": True}


def test_redirect_is_returned_when_not_following(server, allow_local):
    server.route("/old", Reply(status=302, headers={"Location": "/new"}))
    config = {"url": server.url("/old"), "follow_redirects": False, "accept_status": [302]}
    output = http_step.run(config=config, timeout=5)
    assert output["status_code"] == 302


def test_more_than_five_redirects_fail(server, allow_local):
    server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    with pytest.raises(StepError, match="too many redirects"):
        http_step.run(config={"url": server.url("/loop")}, timeout=5)


def test_see_other_redirect_turns_post_into_get(server, allow_local):
    server.route("/form", Reply(status=303, headers={"Location": "/result"}))
    server.route("/result", Reply(body=b"done"))
    http_step.run(config={"method": "POST", "url": server.url("/form"), "json": {"a": 1}}, timeout=5)
    assert [(r.method, r.path) for r in server.received] == [("POST", "/form"), ("GET", "/result")]


def test_connection_goes_to_the_resolved_address_with_the_original_host_header(settings, server, connections):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["localhost"]
    server.route("/", Reply(body=b"ok"))
    http_step.run(config={"url": server.url("/", host="localhost")}, timeout=5)
    assert (connections[0][0], server.received[0].headers["Host"]) in {
        ("127.0.0.1", f"localhost:{server.port}"),
        ("::1", f"localhost:{server.port}"),
    }
