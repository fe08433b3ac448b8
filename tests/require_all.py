"""``HILSIM_REQUIRE_ALL=1``: every skipped test is a failure, except a ``hardware`` test's (``.ci/run`` sets it).

Live tests skip themselves when a program they start is missing (Mosquitto, the
Pushgateway, Chromium), and any test may skip when a library is missing or too old
(``pytest.importorskip("gpiod", minversion="2.1")``), so that a developer without them
can still run the rest. In CI the same skip would quietly drop a part of the suite, and
a green run would promise what was never tested. With the variable set, such a skip
fails the test with its skip reason, marked or not, and a test file skipped as a whole
while it is collected (its marks are unknown then) is a collection error. Only the
``hardware`` marker's tests may skip: CI has no ESP32 on a serial port. An expected
failure (``xfail``) stays what it is.

The hooks are plugged in by ``conftest.py``; ``test_require_all.py`` runs them in an
inner pytest session.
"""

from __future__ import annotations

import os

import pytest

VARIABLE = "HILSIM_REQUIRE_ALL"
EXEMPT = "hardware"  # the one marker whose tests may skip: they need a real board
MARKERS = ("live", "micropython", "slow")  # named in the failure, to say which layer was about to be lost


def required() -> bool:
    """Whether skips must fail (the variable is set to 1)."""
    return os.environ.get(VARIABLE) == "1"


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Turn the skip of any test but a ``hardware`` one into a failure that names the skip reason."""
    report = yield
    if report.skipped and required() and not hasattr(report, "wasxfail") and not item.get_closest_marker(EXEMPT):
        marks = [m for m in MARKERS if item.get_closest_marker(m)] or ["unmarked"]
        report.outcome = "failed"
        report.longrepr = (f"{VARIABLE}=1: this {'/'.join(marks)} test may not be skipped; "
                           f"install what it needs. {_reason(report)}")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A test file that skips itself while being imported (``importorskip`` at module level) fails to collect."""
    report = yield
    if report.skipped and required() and isinstance(collector, pytest.Module):
        report.outcome = "failed"
        report.longrepr = f"{VARIABLE}=1: a whole test file may not be skipped. {_reason(report)}"
    return report
