"""Under CI=true nothing may be skipped, whole modules included, and no test may be an expected failure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "skip": "import pytest\n\ndef test_it():\n    pytest.skip('no service here')\n",
    "module skip": "import pytest\n\npytest.skip('no service', allow_module_level=True)\n\ndef test_it():\n    pass\n",
    "xfail": "import pytest\n\n@pytest.mark.xfail(reason='known bug')\ndef test_it():\n    assert False\n",
    "xpass": "import pytest\n\n@pytest.mark.xfail(reason='known bug')\ndef test_it():\n    assert True\n",
}


def run(tmp_path, source: str, *, ci: bool) -> subprocess.CompletedProcess:
    module = tmp_path / "test_guarded.py"
    module.write_text(source)
    env = {**os.environ, "CI": "true" if ci else "false"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.ci_guard", str(module)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("case", list(CASES))
def test_it_fails_the_run_under_ci(tmp_path, case):
    result = run(tmp_path, CASES[case], ci=True)

    assert result.returncode != 0, result.stdout + result.stderr
    assert "under CI=true" in result.stdout


@pytest.mark.parametrize("case", ["skip", "module skip", "xfail"])
def test_elsewhere_it_is_a_skip_or_an_xfail_as_usual(tmp_path, case):
    result = run(tmp_path, CASES[case], ci=False)

    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: the module skipped, nothing ran
    assert "under CI=true" not in result.stdout
