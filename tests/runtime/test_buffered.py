"""Plain handlers keep working unchanged; context, trace id and Powertools."""

from __future__ import annotations

import decimal
import io
import json
import logging
from typing import Any

from aws_lambda_powertools import Logger

from lambda_isr.runtime.context import LambdaContext
from lambda_isr.runtime.protocol import Invocation
from lambda_isr.runtime.recording import BufferedResult, InvocationErrorEvent
from lambda_isr.runtime.stream import StreamingResponse
from tests.support.fake_runtime_api import FakeRuntimeApi, make_runtime, run_in_process


def test_buffered_result_is_json(api: FakeRuntimeApi) -> None:
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": f"hello {event['name']}", "n": decimal.Decimal("1.5")}

    [pending] = run_in_process(api, handler, [{"name": "é"}])
    final = pending.final
    assert isinstance(final, BufferedResult)
    assert final.content_type == "application/json"
    assert final.json() == {"statusCode": 200, "body": "hello é", "n": 1.5}
    request = api.request_for(pending)
    assert not request.chunked
    assert request.header("Lambda-Runtime-Function-Response-Mode") is None


def test_bytes_result_and_none(api: FakeRuntimeApi) -> None:
    results: list[Any] = [b"\x00raw", None]

    def handler(event: Any, context: Any) -> Any:
        return results[event["i"]]

    first, second = run_in_process(api, handler, [{"i": 0}, {"i": 1}])
    assert isinstance(first.final, BufferedResult)
    assert first.final.body == b"\x00raw"
    assert first.final.content_type == "application/unknown"
    assert isinstance(second.final, BufferedResult)
    assert second.final.body == b"null"


def test_handler_exception_posts_error_like_awslambdaric(api: FakeRuntimeApi) -> None:
    def handler(event: Any, context: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    [pending] = run_in_process(api, handler, [{}])
    final = pending.final
    assert isinstance(final, InvocationErrorEvent)
    assert final.error_type == "ZeroDivisionError"
    assert set(final.payload) == {"errorMessage", "errorType", "stackTrace", "requestId"}
    assert final.payload["requestId"] == pending.request_id
    trace = final.payload["stackTrace"]
    assert isinstance(trace, list)
    assert all(isinstance(line, str) for line in trace)
    assert "test_buffered.py" in trace[0]  # runtime frames are dropped


def test_unserialisable_result_is_a_marshal_error(api: FakeRuntimeApi) -> None:
    [pending] = run_in_process(api, lambda e, c: {"x": object()}, [{}])
    assert isinstance(pending.final, InvocationErrorEvent)
    assert pending.final.error_type == "Runtime.MarshalError"


def test_non_json_event_is_an_unmarshal_error(api: FakeRuntimeApi) -> None:
    called: list[Any] = []
    [pending] = run_in_process(api, lambda e, c: called.append(e), [b"{not json"])
    assert isinstance(pending.final, InvocationErrorEvent)
    assert pending.final.error_type == "Runtime.UnmarshalError"
    assert pending.final.payload["errorMessage"].startswith("Unable to unmarshal input")
    assert called == []


def test_plain_handler_returning_streaming_response_streams(api: FakeRuntimeApi) -> None:
    [pending] = run_in_process(api, lambda e, c: StreamingResponse(body=iter(["a", "b"])), [{}])
    assert pending.body == b"ab"


def test_trace_id_is_set_and_cleared(api: FakeRuntimeApi) -> None:
    seen: list[str | None] = []
    environ: dict[str, str] = {"_X_AMZN_TRACE_ID": "stale"}

    def handler(event: Any, context: Any) -> None:
        seen.append(environ.get("_X_AMZN_TRACE_ID"))

    first = api.enqueue({}, trace_id="Root=1-abc;Sampled=1")
    second = api.enqueue({}, trace_id="")
    runtime = make_runtime(api, handler, environ)
    runtime.serve(2)
    runtime.client.close()
    first.wait()
    second.wait()
    assert seen == ["Root=1-abc;Sampled=1", None]


def test_context_fields_and_remaining_time() -> None:
    invocation = Invocation(
        request_id="rid",
        deadline_ms=1_000_000_500,
        invoked_function_arn="arn:aws:lambda:eu-west-1:1:function:f",
        body=b"{}",
        client_context=json.dumps(
            {"client": {"app_title": "t", "bogus": 1}, "custom": {"k": "v"}, "env": {"e": 1}}
        ),
        cognito_identity=json.dumps({"cognitoIdentityId": "id", "cognitoIdentityPoolId": "pool"}),
    )
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]abc",
    }
    now = [1_000_000.0]
    context = LambdaContext.for_invocation(invocation, env, lambda: now[0])
    assert context.get_remaining_time_in_millis() == 500
    now[0] += 0.2
    assert context.get_remaining_time_in_millis() == 300
    now[0] += 10
    assert context.get_remaining_time_in_millis() == 0
    assert (context.function_name, context.function_version) == ("f", "$LATEST")
    assert context.memory_limit_in_mb == "1024"  # a string, as awslambdaric gives it
    assert context.log_group_name == "/aws/lambda/f"
    assert context.client_context is not None
    assert context.client_context.client is not None
    assert context.client_context.client.app_title == "t"
    assert context.client_context.custom == {"k": "v"}
    assert context.identity.cognito_identity_id == "id"
    assert context.identity.cognito_identity_pool_id == "pool"


def test_bad_client_context_is_reported(api: FakeRuntimeApi) -> None:
    pending = api.enqueue({}, headers={"Lambda-Runtime-Client-Context": "{oops"})
    runtime = make_runtime(api, lambda e, c: None)
    runtime.serve(1)
    runtime.client.close()
    final = pending.wait().final
    assert isinstance(final, InvocationErrorEvent)
    assert final.error_type == "Runtime.LambdaContextUnmarshalError"


def test_powertools_inject_lambda_context_accepts_the_context(api: FakeRuntimeApi) -> None:
    stream = io.StringIO()
    logger = Logger(service="svc", logger_handler=logging.StreamHandler(stream))

    @logger.inject_lambda_context
    def handler(event: Any, context: Any) -> str:
        logger.info("inside")
        return "ok"

    environ = {"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}
    pending = api.enqueue({})
    runtime = make_runtime(api, handler, environ)
    runtime.serve(1)
    runtime.client.close()
    assert isinstance(pending.wait().final, BufferedResult)
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["message"] == "inside"
    assert record["function_request_id"] == pending.request_id
    assert record["function_name"] == "fn"
    assert record["function_memory_size"] == "256"
    assert record["function_arn"].startswith("arn:aws:lambda:")


def test_reconnects_after_the_api_drops_the_keep_alive_connection(api: FakeRuntimeApi) -> None:
    runtime = make_runtime(api, lambda e, c: {"n": e["n"]})
    first = api.enqueue({"n": 1})
    runtime.serve(1)
    assert isinstance(first.wait().final, BufferedResult)
    api.drop_connections()  # the idle keep-alive connection dies under the runtime
    second = api.enqueue({"n": 2})
    runtime.serve(1)
    runtime.client.close()
    final = second.wait().final
    assert isinstance(final, BufferedResult)
    assert final.json() == {"n": 2}
    posts = [r for r in api.requests if r.method == "POST"]
    assert len(posts) == 2
