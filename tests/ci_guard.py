"""Under CI=true a skipped test fails the run: CI has PostgreSQL, Redis and Chromium, so a skip there
means a missing install step, not a missing service. So does a module skipped whole, and an expected
failure (xfail, or an xpass): CI runs every test and expects each to pass.

A plugin of its own (tests/conftest.py loads it) so that its own test can load it without Django.
"""

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not IN_CI:
        return
    if hasattr(report, "wasxfail"):
        reason = report.wasxfail
        del report.wasxfail  # else pytest does not count the failure in its exit status
        report.outcome = "failed"
        report.longrepr = f"Expected to fail (xfail) under CI=true, which expects every test to pass: {reason}"
    elif report.skipped:
        report.outcome = "failed"
        report.longrepr = f"Skipped under CI=true, which must run everything: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:  # a module skipped whole: pytest.skip(..., allow_module_level=True)
        report.outcome = "failed"
        report.longrepr = f"Skipped under CI=true, which must run everything: {report.longrepr}"
