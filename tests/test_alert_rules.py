"""The alert rules (docs/prometheus/alerts.yml): promtool checks them and runs their unit tests, every
alert has a series that fires it and one that does not, and the runbook's table is generated from them.

Without promtool (Debian's `prometheus` package) the promtool tests skip with that reason; under
CI=true, where .ci/run installs it, a skip fails the run.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from caly.docs import ALERT_RULES, OPERATIONS_BLOCKS, replace_block

ROOT = Path(__file__).resolve().parent.parent
RULE_TESTS = ALERT_RULES.with_name("alerts_test.yml")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)"
)


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=ALERT_RULES.parent, capture_output=True, text=True, timeout=120)


def _alerts() -> list[str]:
    return [rule["alert"] for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]]


@needs_promtool
def test_promtool_accepts_the_rules():
    result = _promtool("check", "rules", ALERT_RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


@needs_promtool
def test_the_rules_unit_tests_pass():
    result = _promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_a_broken_expectation_fails_the_unit_tests(tmp_path):
    """The unit tests can fail: the same file with one quiet case expecting an alert does."""
    tests = yaml.safe_load(RULE_TESTS.read_text())
    quiet = next(case for case in tests["tests"] if "stays quiet" in case["name"])
    quiet["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "page"}}]
    tests["tests"] = [quiet]
    tests["rule_files"] = [str(ALERT_RULES)]
    broken = tmp_path / "broken_test.yml"
    broken.write_text(yaml.safe_dump(tests))
    result = _promtool("test", "rules", str(broken))
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def test_every_alert_has_a_series_that_fires_it_and_one_that_does_not():
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired, quiet = set(), set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(_alerts())
    assert fired == alerts and quiet == alerts


def test_the_runbook_covers_cpu_memory_disk_and_restarts():
    expressions = " ".join(
        rule["expr"] for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]
    )
    for metric in ("node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes"):
        assert metric in expressions
    assert re.search(r"changes\(process_start_time_seconds", expressions)


def test_the_runbooks_alert_table_is_generated_from_the_rules():
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for marker, render in OPERATIONS_BLOCKS.items():
        assert replace_block(runbook, marker, render(), document="docs/operations.md") == runbook, "run: make docs"
    assert all(f"(`{name}`)" in runbook for name in _alerts())
