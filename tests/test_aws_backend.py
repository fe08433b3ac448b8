"""The AWS backend against a local AWS API server (moto's, a real process): no account, the real boto3 calls.

- ``hilsim cloud aws-setup`` makes the three tables and the heartbeat alarm, and can run again;
- a live controller with ``--cloud-url aws:REGION`` mirrors a job's effect into DynamoDB and pushes its
  counters and heartbeat to CloudWatch, while its jobs come over MQTT with an X.509 client certificate;
- the alarm, as defined, goes to ALARM after three periods without a heartbeat.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from processes import ROOT, WAIT, free_port, start_server, stop_server

pytestmark = pytest.mark.live
boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


@pytest.fixture
def aws(monkeypatch):
    """A moto server on a free port; boto3 here and in child processes talk to it with dummy credentials."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    proc = start_server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


def client(service: str, endpoint: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def aws_setup(endpoint: str, *devices: str) -> subprocess.CompletedProcess:
    args = [arg for device in devices for arg in ("--device", device)]
    return subprocess.run([sys.executable, "-m", "hilsim", "cloud", "aws-setup", "--region", REGION,
                           "--endpoint-url", endpoint, *args], capture_output=True, text=True, cwd=ROOT, timeout=WAIT)


def test_aws_setup_makes_the_tables_and_the_heartbeat_alarm_and_can_run_again(aws):
    first = aws_setup(aws, "pi")
    assert first.returncode == 0, first.stderr
    again = aws_setup(aws, "pi")
    assert again.returncode == 0 and "all there already" in again.stdout, again.stdout + again.stderr

    dynamo = client("dynamodb", aws)
    assert sorted(dynamo.list_tables()["TableNames"]) == ["alerts", "events", "jobs"]
    for table in ("alerts", "events", "jobs"):
        assert dynamo.describe_table(TableName=table)["Table"]["KeySchema"] == [{"AttributeName": "key",
                                                                                 "KeyType": "HASH"}]
    (alarm,) = client("cloudwatch", aws).describe_alarms()["MetricAlarms"]
    # The heartbeat rule: pushed every 5 minutes, alarm after three missing periods, silence counts.
    expected = {"AlarmName": "pi-heartbeat", "Namespace": "RPI", "MetricName": "RPI_BACKEND_STATUS",
                "Dimensions": [{"Name": "Device", "Value": "pi"}], "Period": 300, "EvaluationPeriods": 3,
                "DatapointsToAlarm": 3, "Threshold": 1.0, "ComparisonOperator": "LessThanThreshold",
                "TreatMissingData": "breaching", "Statistic": "Minimum"}
    assert {key: alarm[key] for key in expected} == expected


def test_aws_setup_without_a_server_fails_in_one_line(monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    done = aws_setup(f"http://127.0.0.1:{free_port()}", "pi")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: AWS: "), done.stderr


def evaluate(alarm: dict, datapoints: list[dict], now: datetime) -> str:
    """CloudWatch's documented evaluation, written here as the oracle: the last ``EvaluationPeriods``
    periods before ``now``; a period with no datapoint counts as breaching (TreatMissingData=breaching);
    ALARM when ``DatapointsToAlarm`` of them breach."""
    period = timedelta(seconds=alarm["Period"])
    breaching = 0
    for n in range(alarm["EvaluationPeriods"]):
        end = now - n * period
        inside = [p[alarm["Statistic"]] for p in datapoints if end - period <= p["Timestamp"] < end]
        if not inside or min(inside) < alarm["Threshold"]:
            breaching += 1
    return "ALARM" if breaching >= alarm["DatapointsToAlarm"] else "OK"


def test_the_alarm_goes_to_alarm_after_three_periods_without_a_heartbeat(aws):
    assert aws_setup(aws, "pi").returncode == 0
    cloudwatch = client("cloudwatch", aws)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["pi-heartbeat"])["MetricAlarms"]
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    # Heartbeats every 5 minutes for an hour, until 30 minutes ago.
    beats = [now - timedelta(minutes=m) for m in range(60, 29, -5)]
    cloudwatch.put_metric_data(Namespace="RPI", MetricData=[
        {"MetricName": "RPI_BACKEND_STATUS", "Value": 1.0, "Timestamp": at,
         "Dimensions": [{"Name": "Device", "Value": "pi"}]} for at in beats])

    def state_at(moment: datetime) -> str:
        stats = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
            StartTime=moment - timedelta(hours=2), EndTime=moment, Period=alarm["Period"],
            Statistics=[alarm["Statistic"]])
        return evaluate(alarm, stats["Datapoints"], moment)

    assert state_at(now - timedelta(minutes=30, seconds=-1)) == "OK"  # just after the last heartbeat
    assert state_at(now - timedelta(minutes=20)) == "OK"  # two periods missing: not yet
    assert state_at(now - timedelta(minutes=14)) == "ALARM"  # three periods missing


def items(dynamo, table: str) -> list[dict]:
    from boto3.dynamodb.types import TypeDeserializer
    plain = TypeDeserializer()
    return [{k: plain.deserialize(v) for k, v in item.items()} for item in dynamo.scan(TableName=table)["Items"]]


def test_a_live_controller_on_aws_mirrors_a_jobs_effect_and_pushes_its_heartbeat(aws, tmp_path):
    """Jobs over MQTT with X.509 client certificates (the cloud's jobs side stands in for AWS IoT Jobs);
    the mirror in DynamoDB and the counters in CloudWatch."""
    from certificates import make_certificates
    from cloud_world import CloudWorld

    assert aws_setup(aws, "pi").returncode == 0
    world = CloudWorld(tmp_path, certificates=make_certificates(tmp_path, accounts=("cloud", "pi")),
                       controller_args=("--cloud-url", f"aws:{REGION}", "--aws-endpoint-url", aws,
                                        "--sync-every", "1", "--push-every", "1"))
    start = time.time() + 86400
    try:
        controller = world.start_controller()
        session, csrf = world.session()
        made = session.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                            json={"operation": "createEvent", "title": "Concert", "start": start})
        job = made.json()["id"]
        world.seen("job.updated", job=job, status="SUCCEEDED")
        controller.until(lambda rs: any(r.get("kind") == "sync.pushed" for r in rs)
                         and not controller.of_kind("sync.failed"), "the mirror written")
        dynamo = client("dynamodb", aws)
        deadline = time.monotonic() + WAIT
        while not [i for i in items(dynamo, "jobs") if i.get("status") == "succeeded"]:
            assert time.monotonic() < deadline, items(dynamo, "jobs")
            controller.until(lambda rs, n=len(controller.of_kind("sync.pushed")):
                             len(controller.of_kind("sync.pushed")) > n, "another sync")
        controller.until(lambda rs: any(r.get("job") == "cloud" for r in controller.of_kind("metrics.pushed")),
                         "counters pushed to CloudWatch")
    finally:
        world.stop()
    (event,) = items(dynamo, "events")
    assert (event["title"], event["device"], float(event["start"])) == ("Concert", "pi", pytest.approx(start))
    (done,) = items(dynamo, "jobs")
    assert (done["key"], done["kind"], done["status"]) == (job, "createEvent", "succeeded")
    stats = client("cloudwatch", aws).get_metric_statistics(
        Namespace="RPI", MetricName="RPI_BACKEND_STATUS", Dimensions=[{"Name": "Device", "Value": "pi"}],
        StartTime=datetime.now(timezone.utc) - timedelta(minutes=10), EndTime=datetime.now(timezone.utc) +
        timedelta(minutes=1), Period=60, Statistics=["Maximum"])
    assert stats["Datapoints"] and {p["Maximum"] for p in stats["Datapoints"]} == {1.0}
