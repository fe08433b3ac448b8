"""``hilsim cloud aws-setup``: the three DynamoDB tables and the heartbeat alarm, made once per account.

Both steps can run again: a table that exists is kept, and the alarm is put (AWS replaces one of the same
name). The alarm is the heartbeat rule of :mod:`system.decisions.heartbeat` in CloudWatch's terms: the
controller pushes ``RPI_BACKEND_STATUS 1`` every 5-minute period, and three periods without it (missing
data counts as breaching) raise the alarm.
"""

from __future__ import annotations

from system.adapters.aws_cloud import HEARTBEAT, KEY, TABLES, AwsOptions
from system.decisions.heartbeat import MISSED_PERIODS, PERIOD


def create_tables(options: AwsOptions) -> list[str]:
    """Create the missing tables (on-demand billing, key ``key``); returns the names created."""
    dynamo = options.client("dynamodb")
    existing = set(dynamo.list_tables().get("TableNames", []))
    created = []
    for table in TABLES:
        name = options.table(table)
        if name in existing:
            continue
        dynamo.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}])
        dynamo.get_waiter("table_exists").wait(TableName=name)
        created.append(name)
    return created


def alarm_name(device: str) -> str:
    return f"{device}-heartbeat"


def create_heartbeat_alarm(options: AwsOptions, device: str, actions: tuple[str, ...] = ()) -> str:
    """Put the heartbeat alarm of ``device`` (``actions``: SNS topic ARNs to tell); returns its name."""
    name = alarm_name(device)
    options.client("cloudwatch").put_metric_alarm(
        AlarmName=name, AlarmDescription=f"{device} stopped pushing {HEARTBEAT}",
        Namespace=options.namespace, MetricName=HEARTBEAT, Dimensions=[{"Name": "Device", "Value": device}],
        Statistic="Minimum", Period=int(PERIOD), EvaluationPeriods=MISSED_PERIODS, DatapointsToAlarm=MISSED_PERIODS,
        Threshold=1.0, ComparisonOperator="LessThanThreshold", TreatMissingData="breaching",
        ActionsEnabled=bool(actions), AlarmActions=list(actions), OKActions=list(actions))
    return name
