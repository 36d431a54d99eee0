"""Settings of the gunicorn and the task worker that bench/load.py starts: production's, plus the floors' URLs.

Everything caly.settings.production checks at start-up is checked here too (bench/load.py gives it a
complete environment); requests arrive as from a TLS-terminating proxy (X-Forwarded-Proto: https).
"""

import os
import sys

from caly.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"

if os.environ.get("BENCH_GC_DIR") and "gunicorn" in os.path.basename(sys.argv[0]):
    from bench import gc_pauses

    gc_pauses.install(os.environ["BENCH_GC_DIR"])
