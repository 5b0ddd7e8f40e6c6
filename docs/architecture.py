"""The architecture diagram's source: `make diagram` renders docs/energy-monitoring-architecture.png and .svg.

Every box says what it stands for: a Terraform module (``tf=``, a folder under infra/terraform/modules)
and/or a runtime component (``py=``, ``package.module:Name``). tests/unit/test_docs_diagram.py fails when
one of those no longer exists, when a Terraform module is not drawn, or when the committed SVG lacks a box
(run `make diagram` again). Adding a box is one line in NODES: its key, cluster, icon, label, what it
stands for, the boxes it points to (to=) and the boxes that point to it (fed_by=), e.g.

    Node("queue", "aws", "aws.integration.SimpleQueueServiceSqs", "SQS queue\n(lean profile)", tf="queue",
         fed_by=("iot_core",), to=(("lambda", "", "dashed"),)),

This file is plain data plus a renderer; only rendering needs the `diagrams` package and Graphviz (`dot`).
"""

from __future__ import annotations

import base64
import importlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUTPUT = DOCS / "energy-monitoring-architecture"  # + .png / .svg

# An edge: the target key, or (target, label) or (target, label, style) with style "dashed" | "dotted" | "bold".
Edge = str | tuple[str, str] | tuple[str, str, str]


@dataclass(frozen=True)
class Node:
    key: str
    cluster: str
    icon: str  # a `diagrams` node class, "provider.module.Class"
    label: str
    tf: str | None = None  # infra/terraform/modules/<tf>
    py: str | None = None  # "energymon.package.module:Name"
    to: tuple[Edge, ...] = field(default_factory=tuple)
    fed_by: tuple[Edge, ...] = field(default_factory=tuple)  # edges into this box, so a new box is one line


# Clusters, drawn in this order; a cluster key with a "/" is nested in the cluster before the slash.
CLUSTERS = {
    "box": "IoT box (energymon device run)",
    "local": "LOCAL runtime (energymon run): one machine, no account",
    "local/alerts": "alerts",
    "core": "ONE processing core: the same code on both runtimes",
    "aws": "AWS runtime (infra/terraform)",
    "aws/read": "hosted read API",
    "aws/alerts": "scheduled alerts",
    "you": "you",
}

NODES: tuple[Node, ...] = (
    # --- the IoT box ---------------------------------------------------------------------------------
    Node("meter", "box", "aws.iot.IotGeneric", "meter\nP1 · Tasmota · Shelly\nor the simulator",
         py="energymon.agent.sources:Source", to=("agent",)),
    Node("agent", "box", "aws.iot.IotHardwareBoard", "device agent\nstore & forward\nMQTT 5 + mTLS",
         py="energymon.agent.service:DeviceAgent",
         to=(("broker", "MQTT"), ("iot_core", "MQTT, TLS 8883"))),
    # --- the local runtime ---------------------------------------------------------------------------
    Node("broker", "local", "aws.iot.IotMqtt", "MQTT broker\nembedded (amqtt)\nor your Mosquitto",
         py="energymon.adapters.mqtt.broker:EmbeddedBroker", to=("bridge",)),
    Node("bridge", "local", "programming.language.Python", "bridge\n(= the IoT rule)\n+ device decoders",
         py="energymon.adapters.mqtt.bridge:Bridge",
         to=(("local_stream", "ack after commit"), ("dead_letters", "refused"))),
    Node("local_stream", "local", "generic.database.SQL", "local stream\n(SQLite)",
         py="energymon.adapters.local.stream:LocalStream", to=("poller",)),
    Node("poller", "local", "programming.language.Python", "poller\n(= the Lambda\nevent source mapping)",
         py="energymon.adapters.local.poller:Poller",
         to=(("handler", "Kinesis-shaped event", "bold"), ("dead_letters", "given up"))),
    Node("dead_letters", "local", "generic.database.SQL", "dead letters\n(with the reason)",
         py="energymon.adapters.local.deadletters:SqliteDeadLetters"),
    Node("sqlite", "local", "generic.database.SQL", "SQLite store",
         py="energymon.adapters.local.store:SqliteStore", to=("query",)),
    Node("folder", "local", "generic.storage.Storage", "archive folder\n(Parquet)",
         py="energymon.adapters.local.archive:FolderArchive"),
    Node("prometheus", "local", "onprem.monitoring.Prometheus", "/metrics · /healthz",
         py="energymon.adapters.local.metrics:PrometheusMetrics"),
    Node("local_outbox", "local/alerts", "generic.database.SQL", "alert state\n+ outbox",
         py="energymon.adapters.local.alerts:SqliteAlerts", to=("dispatch",)),
    Node("dispatch", "local/alerts", "programming.language.Python", "dispatcher\nwebhook · ntfy\ne-mail · MQTT · SNS",
         py="energymon.application.alert_dispatch:OutboxDispatcher"),
    Node("web", "local", "programming.framework.Fastapi", "CLI · HTTP API\n· dashboard",
         py="energymon.api.app:create_app", to=("user",)),
    # --- the shared core -----------------------------------------------------------------------------
    Node("handler", "core", "programming.language.Python", "processor.handle\n(Kinesis event)\n→ batchItemFailures",
         py="energymon.processing.processor:Processor",
         to=("sqlite", "folder", "prometheus", ("local_outbox", ""), "dynamodb", "s3", ("cloudwatch", "EMF"),
             ("evaluator", "after each batch", "dashed"))),
    Node("evaluator", "core", "programming.language.Python", "alert evaluator",
         py="energymon.application.alerts:AlertEvaluator"),
    Node("settings", "core", "programming.language.Python", "SharedSettings\nzones · tariffs\nlimits · alerts",
         py="energymon.shared_settings:SharedSettings", to=(("handler", "", "dotted"),)),
    Node("query", "core", "programming.language.Python", "read side\n(query port)",
         py="energymon.application.queries:QueryService", to=("web", "read_lambda")),
    # --- the AWS runtime -----------------------------------------------------------------------------
    Node("iot_core", "aws", "aws.iot.IotCore", "IoT Core\nper-thing policy\n+ topic rule",
         tf="iot", py="energymon.deploy.device_provision:provision_device", to=("kinesis",)),
    Node("kinesis", "aws", "aws.analytics.KinesisDataStreams", "Kinesis\nData Stream",
         tf="stream", py="energymon.adapters.aws.kinesis_stream:KinesisStream",
         to=(("lambda", "100 records / 10 s"),)),
    Node("queue", "aws", "aws.integration.SimpleQueueServiceSqs", "SQS queue\n(lean profile)", tf="queue",
         py="energymon.adapters.aws.sqs_event:sqs_event", fed_by=(("iot_core", "", "dashed"),),
         to=(("lambda", "or: SQS", "dashed"),)),
    Node("lambda", "aws", "aws.compute.Lambda", "processor\nLambda",
         tf="processor", py="energymon.runtimes.lambda_handler:handler",
         to=(("handler", "", "bold"), ("failure_queue", "on failure"))),
    Node("failure_queue", "aws", "aws.integration.SimpleQueueServiceSqs", "on-failure\nSQS queue",
         tf="processor", py="energymon.deploy.replay_failures:replay_failures"),
    Node("dynamodb", "aws", "aws.database.Dynamodb", "DynamoDB\nreadings · rollups\nalert state",
         tf="storage", py="energymon.adapters.aws.dynamodb_store:DynamoDBStore", to=("query",)),
    Node("s3", "aws", "aws.storage.SimpleStorageServiceS3", "S3 archive\n+ settings.json",
         tf="storage", py="energymon.adapters.aws.s3_archive:S3Archive"),
    Node("archiver", "aws", "aws.compute.Lambda", "archiver Lambda\n(hourly: TTL pins,\ndaily Parquet)",
         tf="archive", py="energymon.runtimes.archiver_lambda:handler", to=("s3", "dynamodb")),
    Node("glue", "aws", "aws.analytics.Glue", "Glue table\n(Athena SQL\nover days/)",
         tf="catalog", fed_by=(("s3", "", "dashed"),), to=("user",)),
    Node("cloudwatch", "aws", "aws.management.Cloudwatch", "CloudWatch\nalarms",
         tf="monitoring", py="energymon.adapters.aws.emf_metrics:EmfMetrics", to=("ops_sns",)),
    Node("ops_sns", "aws", "aws.integration.SimpleNotificationServiceSns", "SNS\nops alarms",
         tf="monitoring"),
    Node("schedule", "aws/alerts", "aws.integration.EventbridgeScheduler", "EventBridge\nevery minute",
         tf="alerts", to=("alerts_lambda",)),
    Node("alerts_lambda", "aws/alerts", "aws.compute.Lambda", "alerts\nLambda",
         tf="alerts", py="energymon.runtimes.lambda_handler:scheduled_handler",
         to=(("evaluator", "time-driven rules", "dashed"), ("alert_sns", "outbox"))),
    Node("alert_sns", "aws/alerts", "aws.integration.SimpleNotificationServiceSns", "SNS\nyour alerts",
         tf="alerts", py="energymon.adapters.aws.sns_notifier:SnsNotifier", to=("user",)),
    Node("read_lambda", "aws/read", "aws.compute.Lambda", "read API\nLambda",
         tf="read_api", py="energymon.runtimes.api_lambda:handler", to=("apigw",)),
    Node("apigw", "aws/read", "aws.network.APIGateway", "API Gateway\n(token)",
         tf="read_api", to=("user",)),
    # --- you -----------------------------------------------------------------------------------------
    Node("user", "you", "onprem.client.Users", "terminal\nbrowser · phone"),
)


def terraform_modules() -> set[str]:
    return {node.tf for node in NODES if node.tf}


def components() -> set[str]:
    return {node.py for node in NODES if node.py}


def edges() -> list[tuple[str, str, str, str]]:
    """(source, target, label, style) for every edge."""
    found = []
    for node in NODES:
        for edge in node.to:
            target, label, style = (edge, "", "") if isinstance(edge, str) else (*edge, "")[:3]
            found.append((node.key, target, label, style))
        for edge in node.fed_by:
            source, label, style = (edge, "", "") if isinstance(edge, str) else (*edge, "")[:3]
            found.append((source, node.key, label, style))
    return found


def _icon(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(f"diagrams.{module}"), name)  # type: ignore[no-any-return]


def _portable_svg(svg: Path) -> None:
    """Graphviz links each icon by its absolute path in the installed package: embed them instead, so the
    SVG shows on any machine and in a browser; and name fonts as CSS does (a browser knows no "DejaVu Sans
    Bold" family, only the family with a weight)."""

    def data_uri(match: re.Match[str]) -> str:
        encoded = base64.b64encode(Path(match.group(2)).read_bytes()).decode()
        return f'{match.group(1)}="data:image/png;base64,{encoded}"'

    text = re.sub(r'(xlink:href|href)="(/[^"]+\.png)"', data_uri, svg.read_text())
    family = 'font-family="DejaVu Sans,Verdana,sans-serif"'
    text = text.replace('font-family="DejaVu Sans Bold"', f'{family} font-weight="bold"')
    text = text.replace('font-family="DejaVu Sans"', family)
    svg.write_text(text)


def render(output: Path = OUTPUT) -> list[Path]:
    from diagrams import Cluster, Diagram, Edge  # noqa: PLC0415 - rendering only

    graph = {"fontsize": "34", "fontname": "DejaVu Sans", "pad": "0.4", "nodesep": "0.45", "ranksep": "1.1",
             "splines": "spline", "newrank": "true"}
    nodes_attr = {"fontsize": "19", "fontname": "DejaVu Sans"}
    edges_attr = {"fontsize": "20", "fontname": "DejaVu Sans", "color": "#555555"}
    cluster_attr = {"fontsize": "24", "fontname": "DejaVu Sans Bold", "margin": "18"}
    drawn: dict[str, object] = {}

    def draw(key: str) -> None:
        with Cluster(CLUSTERS[key], graph_attr=cluster_attr):
            for node in NODES:
                if node.cluster == key:
                    # The icon at the top, and room under it for every label line at this font size.
                    height = 1.55 + 0.32 * (node.label.count("\n") + 1)
                    drawn[node.key] = _icon(node.icon)(node.label, nodeid=node.key,  # stable ids: a stable SVG
                                                       height=f"{height:.2f}", imagepos="tc")
            for child in CLUSTERS:
                if child.startswith(f"{key}/"):
                    draw(child)

    with Diagram("energymon: one processing core, two runtimes", filename=str(output), outformat=["png", "svg"],
                 show=False, direction="LR", graph_attr=graph, node_attr=nodes_attr, edge_attr=edges_attr):
        for key in CLUSTERS:
            if "/" not in key:
                draw(key)
        for source, target, label, style in edges():
            attrs = {"style": style} if style else {}
            drawn[source] >> Edge(label=label, **attrs) >> drawn[target]  # type: ignore[operator]
    svg = output.with_suffix(".svg")
    _portable_svg(svg)
    return [output.with_suffix(".png"), svg]



def main() -> int:
    for path in render():
        print(f"wrote {path.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
