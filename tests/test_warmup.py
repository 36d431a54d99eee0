"""A web worker loads what its first requests would load lazily, then freezes its startup objects
(caly/warmup.py, called from gunicorn.conf.py's post_worker_init). Run in a fresh interpreter, so the
test process is neither warmed nor frozen."""

import json
import subprocess

from tests.serving import PYTHON, ROOT, TIMEOUT, clean_env

SCRIPT = """
import gc, json, sys
import django
django.setup()
from caly.warmup import prepare_worker
lazy = ["recordings.api.views", "integrations.shopify.api", "accounts.api.views"]
before = [name in sys.modules for name in lazy]
frozen = prepare_worker()
after = [name in sys.modules for name in lazy]
cycle = []
cycle.append(cycle)
del cycle
collected = gc.collect()
print(json.dumps({"before": before, "after": after, "frozen": frozen, "count": gc.get_freeze_count(),
                  "collected": collected}))
"""


def test_it_loads_every_view_then_freezes_the_startup_objects(tmp_path):
    env = clean_env(tmp_path, DJANGO_SETTINGS_MODULE="caly.settings.test")
    done = subprocess.run(
        [PYTHON, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"] == [False, False, False] and result["after"] == [True, True, True]
    assert result["frozen"] == result["count"] > 50_000  # modules, classes, functions, URL patterns
    assert result["collected"] >= 1  # what is made afterwards is collected as usual
