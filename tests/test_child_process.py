"""Stopping a child process (system/adapters/child_process.py): asked first, killed when it does not listen,
always reaped."""

from __future__ import annotations

import signal
import subprocess
import sys

from system.adapters.child_process import stop

SLEEPER = "import time; print('ready', flush=True); time.sleep(120)"
# deaf to SIGTERM; SIGINT raises KeyboardInterrupt even when the test runs where SIGINT was ignored at start (a
# background job of a script), which Python would otherwise inherit
DEAF = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "signal.signal(signal.SIGINT, signal.default_int_handler); print('ready', flush=True); time.sleep(120)")


def _started(code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline() == "ready\n"  # its signal handlers are in place
    return proc


def test_a_child_that_listens_stops_on_sigterm():
    proc = _started(SLEEPER)
    assert stop(proc, 30) == -signal.SIGTERM and proc.poll() == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout():
    proc = _started(DEAF)
    assert stop(proc, 0.2) == -signal.SIGKILL


def test_the_signal_asked_with_can_be_another():
    proc = _started(DEAF)
    assert stop(proc, 30, sig=signal.SIGINT) == -signal.SIGINT  # an uncaught KeyboardInterrupt ends it by SIGINT


def test_a_child_that_has_exited_is_only_reaped_with_its_code():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    assert stop(proc, 30) == 3
