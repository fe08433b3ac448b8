"""The controller's cloud on AWS, beside ``hilsim cloud``: the mirror in DynamoDB, counters in CloudWatch.

For those who run the original system's cloud. The controller's store stays the source of truth; its outbox
changes go, in order, to three DynamoDB tables:

- ``events``: one item per fixture, keyed by the event key;
- ``alerts``: what happened around the alerts (``alert_log``, ``snoozes``, ``extras``, ``policies``), keyed
  ``<record>:<key>`` with the outbox table in ``record``;
- ``jobs``: one item per job, keyed by the job id.

A change carries a row's new fields (merged over its earlier ones) or ``None`` for a deletion, so an update
sets just those fields and a replayed batch leaves the items as they were: DynamoDB is idempotent where the
hilsim cloud counts positions, and it never asks for a resync. Counters and the heartbeat go to CloudWatch
``PutMetricData`` under their own names (``RPI_BACKEND_STATUS`` among them), with the device as the one
dimension, which the heartbeat alarm of :func:`create_heartbeat_alarm` watches.

boto3 blocks, so every call runs in a worker thread; failures become :class:`~system.errors.BackendError`,
which the sync and push services already retry with backoff.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from system.errors import BackendError

TABLES = ("events", "alerts", "jobs")
TABLE_OF = {"events": "events", "jobs": "jobs", "alert_log": "alerts", "snoozes": "alerts", "extras": "alerts",
            "policies": "alerts"}
KEY = "key"  # every table's partition key (a string)
NAMESPACE = "RPI"
HEARTBEAT = "RPI_BACKEND_STATUS"


@dataclass(frozen=True)
class AwsOptions:
    """Where the AWS backend is: ``region``, an ``endpoint_url`` (a local test server; None: AWS itself),
    a ``table_prefix`` for the three tables and the CloudWatch ``namespace``."""

    region: str = "eu-west-1"
    endpoint_url: str | None = None
    table_prefix: str = ""
    namespace: str = NAMESPACE

    def client(self, service: str) -> Any:
        import boto3  # an optional dependency: only the AWS backend needs it
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def table(self, name: str) -> str:
        return self.table_prefix + name


def item_key(table: str, key: str) -> str:
    """The DynamoDB key of an outbox row: its own key, or ``<record>:<key>`` in the shared alerts table."""
    return key if TABLE_OF[table] != "alerts" else f"{table}:{key}"


def dynamo_value(value: Any) -> Any:
    """JSON values as DynamoDB takes them: numbers as ``Decimal`` (it refuses floats)."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


async def _call(method: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        return await asyncio.to_thread(method, **kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise BackendError(f"AWS {method.__name__}: {exc}"[:300]) from exc


class DynamoMirror:
    """The sync service's transport to DynamoDB: the same ``sync``/``snapshot`` bodies as the hilsim cloud's."""

    def __init__(self, options: AwsOptions, device: str):
        self.options = options
        self.device = device
        self.dynamo = options.client("dynamodb")

    async def sync(self, body: dict) -> tuple[int, dict]:
        """Apply ``body["changes"]`` in order; answers (200, {"applied": last})."""
        for change in body["changes"]:
            await self._apply(change["table"], change["key"], change["payload"])
        return 200, {"applied": body["last"] if not body["changes"] else body["changes"][-1]["id"]}

    async def snapshot(self, body: dict) -> int:
        for table, rows in body["rows"].items():
            for key, row in rows.items():
                await self._apply(table, key, row)
        return 200

    async def _apply(self, table: str, key: str, payload: dict | None) -> None:
        if table not in TABLE_OF:
            raise BackendError(f"no DynamoDB table for the store's {table!r} rows")
        name = self.options.table(TABLE_OF[table])
        ident = {KEY: {"S": item_key(table, key)}}
        if payload is None:
            await _call(self.dynamo.delete_item, TableName=name, Key=ident)
            return
        fields = {"device": self.device, "record": table, **payload}
        fields.pop(KEY, None)  # the key attribute is the item's identity, set above
        names = {f"#f{i}": field for i, field in enumerate(fields)}
        values = {f":v{i}": _attribute(value) for i, value in enumerate(fields.values())}
        await _call(self.dynamo.update_item, TableName=name, Key=ident,
                    UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                    ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def _attribute(value: Any) -> dict:
    from boto3.dynamodb.types import TypeSerializer
    return TypeSerializer().serialize(dynamo_value(value))


class CloudWatchTarget:
    """Push target: the counters' exposition text becomes one ``PutMetricData`` call, a datum per sample."""

    def __init__(self, options: AwsOptions, device: str):
        self.options = options
        self.device = device
        self.cloudwatch = options.client("cloudwatch")

    def data(self, body: str) -> list[dict]:
        data = []
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                data.append({"MetricName": sample.name, "Value": float(sample.value), "Unit": "Count",
                             "Dimensions": [{"Name": "Device", "Value": self.device}]})
        return data

    async def push(self, job: str, body: str) -> None:
        data = self.data(body)
        for start in range(0, len(data), 1000):  # PutMetricData takes at most 1000 data per call
            await _call(self.cloudwatch.put_metric_data, Namespace=self.options.namespace,
                        MetricData=data[start:start + 1000])
