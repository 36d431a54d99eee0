"""Settings of the gunicorn and the task worker that bench/load.py starts: production's, plus the floors' URLs.

Everything caly.settings.production checks at start-up is checked here too (bench/load.py gives it a
complete environment); requests arrive as from a TLS-terminating proxy (X-Forwarded-Proto: https).
"""

from caly.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
