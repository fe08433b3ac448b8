"""Every shipped scenario is deterministic: run again in another process under another PYTHONHASHSEED, it
writes the same trace, byte for byte (the same SHA-256). The in-process run is the plugin's, whose verdicts the
scenario's own collected item then reports without running it a third time."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from hilsim.pytest_plugin import _is_slow
from processes import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _marks(path):
    return [pytest.mark.slow] if _is_slow(yaml.safe_load(path.read_text(encoding="utf-8"))) else []


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem, marks=_marks(p)) for p in SCENARIOS])
def test_a_second_run_under_another_hash_seed_writes_the_same_trace(path, scenario_run, tmp_path):
    first = scenario_run(path, hash_only=True)
    seed = "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "1"
    done = subprocess.run([sys.executable, "-m", "hilsim", "run", str(path), "--hash-only", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env={**os.environ, "PYTHONHASHSEED": seed})
    second = re.search(r"trace sha256: ([0-9a-f]{64})", done.stdout)
    assert second, done.stdout + done.stderr
    assert second.group(1) == first.sha256


def test_the_library_holds_at_least_twenty_stories_each_with_a_name_and_a_description():
    stories = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in SCENARIOS}
    assert len(stories) >= 20, sorted(stories)
    for name, story in stories.items():
        assert story.get("name") and "\n" not in story["name"].strip(), name
        assert story.get("description", "").strip(), name
