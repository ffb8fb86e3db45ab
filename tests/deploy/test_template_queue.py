"""The async revalidation wiring, on the template SAM translates (as ``sam validate`` does):
the queue and its dead-letter queue, the consumer (same layer, table, bucket; least privilege),
its event source mapping with partial batch failures, and the caller's send permission."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.cfn import dependency_order, of_type, translate


@pytest.fixture(scope="module", params=["Enabled", "Disabled"])
def cfn(request: pytest.FixtureRequest) -> dict[str, Any]:
    return translate({"CloudFront": request.param})


def _statements(cfn: dict[str, Any], role: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in cfn["Resources"][role]["Properties"].get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_queue_outlives_six_consumer_timeouts_and_redrives_to_a_dlq(
    cfn: dict[str, Any],
) -> None:
    queues = of_type(cfn, "AWS::SQS::Queue")
    queue = queues["RevalidationQueue"]["Properties"]
    consumer = cfn["Resources"]["RevalidationConsumerFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * consumer["Timeout"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["RevalidationDeadLetterQueue", "Arn"]}
    assert 1 < redrive["maxReceiveCount"] <= 10
    assert "RevalidationDeadLetterQueue" in queues


def test_the_consumer_runs_the_layers_handler_on_the_same_store(cfn: dict[str, Any]) -> None:
    resources = cfn["Resources"]
    consumer = resources["RevalidationConsumerFunction"]["Properties"]
    demo = resources["DemoFunction"]["Properties"]
    assert consumer["Handler"] == "lambda_isr.consumer.handler"
    assert consumer["Layers"] == demo["Layers"]
    env, demo_env = consumer["Environment"]["Variables"], demo["Environment"]["Variables"]
    for name in ("FACETHEORY_CACHE_TABLE_NAME", "FACETHEORY_ISR_BUCKET", "FACETHEORY_ISR_PREFIX"):
        assert env[name] == demo_env[name]
    assert env["LAMBDA_ISR_APP"] == demo["Handler"]
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in env  # a queue consumer streams nothing


def test_the_event_source_mapping_reports_batch_item_failures(cfn: dict[str, Any]) -> None:
    mappings = of_type(cfn, "AWS::Lambda::EventSourceMapping")
    (mapping,) = [
        m["Properties"]
        for m in mappings.values()
        if m["Properties"]["FunctionName"] == {"Ref": "RevalidationConsumerFunction"}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["RevalidationQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_consumer_has_least_privilege(cfn: dict[str, Any]) -> None:
    statements = _statements(cfn, "RevalidationConsumerFunctionRole")
    actions = set().union(*(_actions(s) for s in statements))
    assert actions <= {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
        "s3:GetObject", "s3:PutObject", "s3:ListBucket", "cloudfront:CreateInvalidation",
    }  # fmt: skip
    assert not any("*" in a for a in actions)
    for statement in statements:
        if statement["Action"] == "dynamodb:GetItem" or "dynamodb:PutItem" in _actions(statement):
            assert statement["Resource"] == {"Fn::GetAtt": ["CacheTable", "Arn"]}
    managed = cfn["Resources"]["RevalidationConsumerFunctionRole"]["Properties"]
    assert any("SQSQueueExecutionRole" in str(arn) for arn in managed["ManagedPolicyArns"])


def test_the_caller_may_send_and_knows_the_queue(cfn: dict[str, Any]) -> None:
    caller = cfn["Resources"]["RevalidateFunction"]["Properties"]
    env = caller["Environment"]["Variables"]
    assert env["LAMBDA_ISR_REVALIDATION_QUEUE_URL"] == {"Ref": "RevalidationQueue"}
    sends = [
        s for s in _statements(cfn, "RevalidateFunctionRole") if "sqs:SendMessage" in _actions(s)
    ]
    assert sends == [
        {
            "Sid": "EnqueueRevalidations",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["RevalidationQueue", "Arn"]},
        }
    ]


def test_no_dependency_cycle(cfn: dict[str, Any]) -> None:
    order = dependency_order(cfn)
    assert order.index("RevalidationQueue") < order.index("RevalidationConsumerFunction")
