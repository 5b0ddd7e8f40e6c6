"""The whole stack applied with `terraform apply` to a moto server, then checked with boto3:
what was created is what the issue asks for, and nothing more permissive."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from energymon.adapters.aws.settings_object import SETTINGS_KEY, load_shared_settings
from energymon.domain.energy import EnergyParams

from .conftest import LAMBDA_ENVIRONMENT_VARIABLE_NAMES, AppliedStack

pytestmark = pytest.mark.integration


def _policy(document: Any) -> dict[str, Any]:
    if isinstance(document, str):
        return json.loads(unquote(document))
    return document


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_stream_exists_and_is_kms_encrypted(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the telemetry stream is active, provisioned and KMS-encrypted with the stack key."""
    summary = applied_stack.moto.client("kinesis").describe_stream_summary(StreamName=applied_stack["stream_name"])[
        "StreamDescriptionSummary"
    ]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["StreamARN"] == applied_stack["stream_arn"]
    assert summary["EncryptionType"] == "KMS"
    assert summary["KeyId"] == applied_stack["kms_key_arn"]
    assert summary["StreamModeDetails"]["StreamMode"] == "PROVISIONED"
    assert summary["RetentionPeriodHours"] == 24


def test_table_is_on_demand_with_pk_sk_ttl_pitr_and_encryption(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the table is PAY_PER_REQUEST, keyed pk/sk (strings), with TTL, PITR and KMS."""
    dynamodb = applied_stack.moto.client("dynamodb")
    name = applied_stack["table_name"]
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {"pk": "S", "sk": "S"}
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == applied_stack["kms_key_arn"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_archive_bucket_is_encrypted_private_versioned_tls_only_and_tiered(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the archive bucket has AES256, all four public-access blocks,
    versioning, a TLS-only policy and a lifecycle per prefix."""
    s3 = applied_stack.moto.client("s3")
    bucket = applied_stack["archive_bucket_name"]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert len(deny) == 1
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(_as_list(deny[0]["Resource"])) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}

    rules = {r["Filter"].get("Prefix", ""): r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    # the whole bucket only aborts incomplete uploads; config/ (the settings every cold start reads) has no
    # rule of its own: it never moves to a class GetObject cannot read at once
    whole = rules.pop("")
    assert whole["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert "Transitions" not in whole and "Expiration" not in whole
    assert sorted(rules) == ["days/", "raw/", "rejected/"]
    assert all(r["Status"] == "Enabled" and r["Expiration"]["Days"] == 730 for r in rules.values())
    tiers = {prefix: [(t["Days"], t["StorageClass"]) for t in r["Transitions"]] for prefix, r in rules.items()}
    assert tiers == {
        "raw/": [(30, "STANDARD_IA"), (90, "GLACIER")],
        "days/": [(30, "STANDARD_IA"), (90, "GLACIER_IR")],  # Athena reads GLACIER_IR, not GLACIER
        "rejected/": [(30, "STANDARD_IA")],  # `energymon dead-letters` lists and reads them
    }


def test_event_source_mapping_batches_100_records_or_10_seconds_and_reports_partial_failures(
    applied_stack: AppliedStack,
) -> None:
    """GIVEN the applied stack THEN the Kinesis mapping reads from the start, 100 records / 10 s per batch,
    reports item failures, bisects, bounds retries and record age, and sends failures to the DLQ."""
    lambda_ = applied_stack.moto.client("lambda")
    mapping = lambda_.get_event_source_mapping(UUID=applied_stack["event_source_mapping_uuid"])
    assert mapping["EventSourceArn"] == applied_stack["stream_arn"]
    assert mapping["FunctionArn"].endswith(f":function:{applied_stack['function_name']}")
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 <= mapping["MaximumRetryAttempts"] <= 10000
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] <= 604800
    dlq_arn = applied_stack.moto.client("sqs").get_queue_attributes(
        QueueUrl=applied_stack["dlq_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == dlq_arn


def test_dead_letter_queue_is_kms_encrypted(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the on-failure queue is encrypted with the stack key."""
    attributes = applied_stack.moto.client("sqs").get_queue_attributes(
        QueueUrl=applied_stack["dlq_url"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["KmsMasterKeyId"] == applied_stack["kms_key_arn"]


def test_function_is_arm64_python_with_the_exact_environment(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the processor runs energymon.runtimes.lambda_handler.handler on arm64
    Python, with no reserved concurrency (a fresh account has none to give), and exactly the environment
    the handler reads."""
    lambda_ = applied_stack.moto.client("lambda")
    function = lambda_.get_function(FunctionName=applied_stack["function_name"])
    config = function["Configuration"]
    assert config["Handler"] == "energymon.runtimes.lambda_handler.handler"
    assert config["Architectures"] == ["arm64"]
    assert config["Runtime"] in {"python3.12", "python3.13"}
    assert config["KMSKeyArn"] == applied_stack["kms_key_arn"]
    environment = config["Environment"]["Variables"]
    assert set(environment) == LAMBDA_ENVIRONMENT_VARIABLE_NAMES
    assert sorted(LAMBDA_ENVIRONMENT_VARIABLE_NAMES) == applied_stack["function_environment_variable_names"]
    assert environment == applied_stack["function_environment_variables"]
    assert environment["ENERGYMON_TABLE_NAME"] == applied_stack["table_name"]
    assert environment["ENERGYMON_ARCHIVE_BUCKET"] == applied_stack["archive_bucket_name"]
    assert environment["ENERGYMON_ALERT_TOPIC_ARN"] == applied_stack["alert_topic_arn"]
    assert "ReservedConcurrentExecutions" not in function.get("Concurrency", {})


def test_log_group_has_retention_and_encryption(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the function's log group exists with a retention and the stack key."""
    name = f"/aws/lambda/{applied_stack['function_name']}"
    groups = applied_stack.moto.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    (group,) = [g for g in groups if g["logGroupName"] == name]
    assert group["retentionInDays"] == 365
    assert group.get("kmsKeyId") == applied_stack["kms_key_arn"]


def test_lambda_role_reaches_only_its_own_resources(applied_stack: AppliedStack) -> None:
    """GIVEN the processor's role WHEN its policies are read THEN every Allow names exact actions on
    this stack's own stream, table, bucket objects, topic, queue, log group and key, nothing else."""
    iam = applied_stack.moto.client("iam")
    role = applied_stack["function_role_name"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert len(names) == 1
    document = _policy(iam.get_role_policy(RoleName=role, PolicyName=names[0])["PolicyDocument"])

    dlq_arn = applied_stack.moto.client("sqs").get_queue_attributes(
        QueueUrl=applied_stack["dlq_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    table_arn = applied_stack.moto.client("dynamodb").describe_table(TableName=applied_stack["table_name"])["Table"][
        "TableArn"
    ]
    log_group_arn = f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/{applied_stack['function_name']}:*"
    allowed = {
        applied_stack["stream_arn"],
        table_arn,
        *(f"arn:aws:s3:::{applied_stack['archive_bucket_name']}/{prefix}/*" for prefix in ("raw", "rejected", "config")),
        applied_stack["alert_topic_arn"],
        dlq_arn,
        log_group_arn,
        applied_stack["kms_key_arn"],
    }
    granted: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"wildcard action {action}"
            granted.setdefault(action, set()).update(_as_list(statement["Resource"]))
    for resources in granted.values():
        assert resources <= allowed, f"role reaches beyond its own resources: {resources - allowed}"
    assert {a for a in granted if a.startswith("dynamodb:")} == {
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",  # a Delete inside TransactWriteItems is authorized as DeleteItem
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
    }
    assert granted["sns:Publish"] == {applied_stack["alert_topic_arn"]}
    assert granted["sqs:SendMessage"] == {dlq_arn}
    bucket_arn = f"arn:aws:s3:::{applied_stack['archive_bucket_name']}"
    assert granted["s3:PutObject"] == {f"{bucket_arn}/raw/*", f"{bucket_arn}/rejected/*"}
    assert granted["s3:GetObject"] == {f"{bucket_arn}/config/*"}
    assert granted["kinesis:GetRecords"] == {applied_stack["stream_arn"]}
    assert not any(
        a.startswith(("dynamodb:DeleteTable", "dynamodb:Update", "dynamodb:Scan", "s3:Delete", "kinesis:Put", "iam:")) for a in granted
    )


def test_iot_rule_role_may_only_put_records_to_its_stream(applied_stack: AppliedStack) -> None:
    """GIVEN the topic rule's role WHEN its policy is read THEN it may PutRecord to the stream (with the
    stream key) and write rejected/ objects for its error action, nothing else."""
    iam = applied_stack.moto.client("iam")
    role = applied_stack["iot_topic_rule_role_name"]
    trust = _policy(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "iot.amazonaws.com"}
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = _policy(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    granted = {action: set(_as_list(s["Resource"])) for s in document["Statement"] for action in _as_list(s["Action"])}
    assert granted == {
        "kinesis:PutRecord": {applied_stack["stream_arn"]},
        "kms:GenerateDataKey": {applied_stack["kms_key_arn"]},
        "s3:PutObject": {f"arn:aws:s3:::{applied_stack['archive_bucket_name']}/rejected/*"},
    }


def test_device_policy_confines_each_thing_to_its_own_client_id_and_topics(applied_stack: AppliedStack) -> None:
    """GIVEN the rendered device policy (moto cannot hold it; real AWS does) THEN a thing may connect only
    as its own name and publish only under energy/<its name>/ or to its own Basic Ingest telemetry topic of
    the stack's rule, and only while attached to its certificate."""
    document = json.loads(str(applied_stack["iot_device_policy_document"]))
    by_action = {s["Action"]: s for s in document["Statement"]}
    assert set(by_action) == {"iot:Connect", "iot:Publish"}
    assert by_action["iot:Connect"]["Resource"].endswith(":client/${iot:Connection.Thing.ThingName}")
    rule = applied_stack["iot_basic_ingest_topic_prefix"]
    assert re.fullmatch(r"\$aws/rules/[a-zA-Z0-9_]+_telemetry_to_kinesis", str(rule)), rule
    assert sorted(r.split(":topic/", 1)[1] for r in _as_list(by_action["iot:Publish"]["Resource"])) == [
        f"{rule}/energy/${{iot:Connection.Thing.ThingName}}/telemetry",
        "energy/${iot:Connection.Thing.ThingName}/*",
    ]
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def test_things_are_registered(applied_stack: AppliedStack) -> None:
    """GIVEN the moto example's devices (and things) maps THEN every device is a thing in IoT, with its label
    and zone as at most 3 attributes whose values IoT accepts (a label's spaces and parentheses become _)."""
    iot = applied_stack.moto.client("iot")
    for name in applied_stack["iot_thing_names"]:  # type: ignore[attr-defined]
        assert iot.describe_thing(thingName=name)["thingName"] == name
    assert applied_stack["iot_thing_names"] == ["apt-12", "apt-14"]
    attributes = {name: iot.describe_thing(thingName=name)["attributes"] for name in ("apt-12", "apt-14")}
    assert attributes == {
        "apt-12": {"label": "Apartment_12", "timezone": "Europe/Berlin", "apartment": "12"},
        "apt-14": {"label": "Flat_14__north_side_", "timezone": "America/New_York"},
    }
    # moto accepts any attribute: the limits CreateThing enforces (FACTS.md) are checked here instead.
    for values in attributes.values():
        assert len(values) <= 3
        assert all(re.fullmatch(r"[a-zA-Z0-9_.,@/:#=\[\]-]*", v) for v in values.values()), values


def test_settings_document_is_the_shared_settings_the_function_is_configured_for(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN config/settings.json in the archive bucket is KMS-encrypted with the stack key,
    its SHA-256 is the function's ENERGYMON_SETTINGS_SHA256, and it loads as the devices variable says."""
    s3 = applied_stack.moto.client("s3")
    bucket = str(applied_stack["archive_bucket_name"])
    environment: dict[str, str] = applied_stack["function_environment_variables"]  # type: ignore[assignment]
    key = environment["ENERGYMON_SETTINGS_KEY"]
    assert key == SETTINGS_KEY
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)  # moto applies the TLS-only Deny without its condition (see pipeline test)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        shared = load_shared_settings(s3, bucket, key, environment["ENERGYMON_SETTINGS_SHA256"])
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == applied_stack["kms_key_arn"]
    assert head["ContentType"] == "application/json"
    assert shared.timezone == "Europe/Amsterdam"
    assert (shared.zone_of("apt-12"), shared.zone_of("apt-14"), shared.zone_of("apt-99")) == (
        "Europe/Berlin", "America/New_York", "Europe/Amsterdam")
    assert shared.energy_params_of("apt-12") == EnergyParams(20_000, 300_000, 1)
    assert shared.energy_params_of("apt-14") == EnergyParams(3_000, 300_000, 1)
    assert shared.label_of("apt-14") == "Flat 14 (north side)"
    tariff = shared.tariff_of("apt-14")
    assert tariff is not None and tariff.currency == "CAD" and shared.tariff_of("apt-12") is None
    # AND the alerts variable is in it, an sns channel without a topic_arn sending to the consumption topic
    (rule,) = shared.alerts.rule_models()
    assert (rule.name, rule.kind, rule.device, rule.for_s, rule.channels) == (
        "meter-offline", "no_data", "*", 900, ("phone",))
    (channel,) = shared.alerts.channel_models()
    assert channel.kind == "sns" and channel.topic_arn == applied_stack["consumption_alert_topic_arn"]


def test_alarms_watch_every_failure_mode_and_notify_the_encrypted_topic(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN there are alarms on Lambda errors/throttles/iterator age, Kinesis read and
    write throttling, DynamoDB throttling and DLQ depth > 0, all notifying the KMS-encrypted alert topic,
    which has the e-mail subscription."""
    cloudwatch = applied_stack.moto.client("cloudwatch")
    names = applied_stack["alarm_names"]
    assert set(names) == {  # type: ignore[arg-type]
        "lambda_errors",
        "lambda_throttles",
        "lambda_iterator_age",
        "kinesis_write_throughput_exceeded",
        "kinesis_read_throughput_exceeded",
        "dynamodb_throttled_requests",
        "dlq_messages_visible",
        "processor_silent_stop",
        "archiver_errors",
    }, "the iot_rule_* alarms are only absent because the moto example does not manage the topic rule"
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=list(names.values()))["MetricAlarms"]}  # type: ignore[union-attr]
    assert set(alarms) == set(names.values())  # type: ignore[union-attr]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [applied_stack["alert_topic_arn"]], alarm["AlarmName"]
    metrics = {(a.get("Namespace"), a.get("MetricName")) for a in alarms.values()}
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/Kinesis", "WriteProvisionedThroughputExceeded"),
        ("AWS/Kinesis", "ReadProvisionedThroughputExceeded"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    } <= metrics
    dlq_alarm = alarms[names["dlq_messages_visible"]]  # type: ignore[index]
    assert (dlq_alarm["ComparisonOperator"], dlq_alarm["Threshold"]) == ("GreaterThanThreshold", 0.0)
    throttles = alarms[names["dynamodb_throttled_requests"]]  # type: ignore[index]
    queried = {m["MetricStat"]["Metric"]["MetricName"] for m in throttles["Metrics"] if "MetricStat" in m}
    assert queried == {"ThrottledRequests"}
    archiver = alarms[names["archiver_errors"]]  # type: ignore[index]
    assert (archiver["Namespace"], archiver["MetricName"], archiver["Dimensions"]) == (
        "AWS/Lambda", "Errors", [{"Name": "FunctionName", "Value": applied_stack["archiver_function_name"]}])

    sns = applied_stack.moto.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=applied_stack["alert_topic_arn"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == applied_stack["kms_key_arn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=applied_stack["alert_topic_arn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]


def test_dashboard_exists(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the overview dashboard exists and shows the processor."""
    body = applied_stack.moto.client("cloudwatch").get_dashboard(DashboardName=applied_stack["dashboard_name"])[
        "DashboardBody"
    ]
    assert applied_stack["function_name"] in body


def test_kms_key_rotates(applied_stack: AppliedStack) -> None:
    """GIVEN the stack key THEN automatic rotation is on."""
    kms = applied_stack.moto.client("kms")
    assert kms.get_key_rotation_status(KeyId=applied_stack["kms_key_arn"])["KeyRotationEnabled"] is True


def test_every_resource_carries_the_stack_tags(applied_stack: AppliedStack) -> None:
    """GIVEN tags passed to the root THEN they reach resources in every module (table, function, queue,
    topic). The stream is not checked here: moto drops the Tags of CreateStream."""
    moto = applied_stack.moto
    expected = {"Project": "energymon", "Stack": "energymon-moto", "Environment": "moto", "ManagedBy": "terraform"}
    table_arn = moto.client("dynamodb").describe_table(TableName=applied_stack["table_name"])["Table"]["TableArn"]
    function_arn = moto.client("lambda").get_function(FunctionName=applied_stack["function_name"])["Configuration"][
        "FunctionArn"
    ]
    found = {
        "table": {
            t["Key"]: t["Value"] for t in moto.client("dynamodb").list_tags_of_resource(ResourceArn=table_arn)["Tags"]
        },
        "function": moto.client("lambda").list_tags(Resource=function_arn)["Tags"],
        "queue": moto.client("sqs").list_queue_tags(QueueUrl=applied_stack["dlq_url"]).get("Tags", {}),
        "topic": {
            t["Key"]: t["Value"]
            for t in moto.client("sns").list_tags_for_resource(ResourceArn=applied_stack["alert_topic_arn"])["Tags"]
        },
    }
    for resource, tags in found.items():
        assert expected.items() <= tags.items(), f"{resource} tags: {tags}"


def test_scheduled_alert_function_runs_the_scheduled_handler_with_its_exact_environment(
    applied_stack: AppliedStack,
) -> None:
    """GIVEN the applied stack THEN a second function from the same zip runs
    energymon.runtimes.lambda_handler.scheduled_handler on arm64, with exactly SCHEDULED_ENVIRONMENT, its own
    role (not the processor's) and the settings document's key."""
    from energymon.runtimes.lambda_handler import SCHEDULED_ENVIRONMENT

    lambda_ = applied_stack.moto.client("lambda")
    config = lambda_.get_function_configuration(FunctionName=str(applied_stack["alerts_function_name"]))
    processor = lambda_.get_function_configuration(FunctionName=str(applied_stack["function_name"]))
    assert config["Handler"] == "energymon.runtimes.lambda_handler.scheduled_handler"
    assert config["Architectures"] == ["arm64"]
    assert config["CodeSha256"] == processor["CodeSha256"]  # one package, two handlers
    assert config["Role"].endswith(f"/{applied_stack['alerts_function_role_name']}")
    assert config["Role"] != processor["Role"]
    environment = config["Environment"]["Variables"]
    assert set(environment) == set(SCHEDULED_ENVIRONMENT)
    assert sorted(SCHEDULED_ENVIRONMENT) == applied_stack["alerts_function_environment_variable_names"]
    assert environment["ENERGYMON_TABLE_NAME"] == applied_stack["table_name"]
    assert environment["ENERGYMON_ARCHIVE_BUCKET"] == applied_stack["archive_bucket_name"]
    assert environment["ENERGYMON_SETTINGS_KEY"] == "config/settings.json"


def test_schedule_rule_targets_the_scheduled_function_every_minute_and_may_invoke_it(
    applied_stack: AppliedStack,
) -> None:
    """GIVEN the applied stack THEN an EventBridge rule rate(1 minute) targets the scheduled function, with no
    retries of stale ticks, and the function's resource policy lets events.amazonaws.com invoke it from that
    rule only."""
    events = applied_stack.moto.client("events")
    rule = events.describe_rule(Name=str(applied_stack["alerts_schedule_rule_name"]))
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["State"] == "ENABLED"
    assert rule["Arn"] == applied_stack["alerts_schedule_rule_arn"]
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    function = applied_stack.moto.client("lambda").get_function_configuration(
        FunctionName=str(applied_stack["alerts_function_name"]))
    assert target["Arn"] == function["FunctionArn"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    policy = json.loads(applied_stack.moto.client("lambda").get_policy(
        FunctionName=str(applied_stack["alerts_function_name"]))["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]


def test_consumption_alert_topic_is_separate_encrypted_and_mailed(applied_stack: AppliedStack) -> None:
    """GIVEN the applied stack THEN the consumption-alert topic is not the ops-alarm topic, uses the stack key,
    and has one e-mail subscription per alert_emails_consumption entry."""
    sns = applied_stack.moto.client("sns")
    topic = str(applied_stack["consumption_alert_topic_arn"])
    assert topic != applied_stack["alert_topic_arn"]
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"] == applied_stack["kms_key_arn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions if s["Protocol"] == "email"] == [
        ("email", "me@example.com")]
