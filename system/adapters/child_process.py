"""Stopping a child process: the one rule, for every place that starts one (hil's broker and firmware
processes, the OTA supervisor, the tests' servers and benchmarks).

Ask first (SIGTERM, or the signal given), so the child shuts down in order; if it is still there after
``timeout`` seconds, SIGKILL it. Either way it is waited for, so no zombie is left, and its exit code is
returned.
"""

from __future__ import annotations

import signal
import subprocess


def stop(proc: subprocess.Popen, timeout: float = 10.0, *, sig: int = signal.SIGTERM) -> int:
    """Stop ``proc`` (``sig``, then SIGKILL after ``timeout`` seconds) and return its exit code; a child that
    has already exited is only reaped."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
