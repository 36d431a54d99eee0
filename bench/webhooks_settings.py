"""Settings of the gunicorn that bench/webhooks.py starts: the site's own, with a bare view routed beside it.

Local settings (no HTTPS redirect, no production-only variables) with DEBUG off, as in production:
DEBUG would keep every query in memory. Never used outside the benchmark.
"""

from caly.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.webhooks_urls"
