"""gunicorn settings, read from the same env module as Django.

Validation runs here, in the master, before any worker starts: a broken production
environment stops gunicorn with one message instead of a crash loop of workers.

preload_app is off on purpose: `kill -HUP` then loads new code into fresh workers (zero-downtime
reload), and a worker that crashes at import cannot take the master down with it.
"""

import multiprocessing
import os

from caly import env
from caly.logging import build_logging_config

_production = os.environ.get("DJANGO_SETTINGS_MODULE", "caly.settings.local").endswith(".production")
_env = env.exit_on_error(production=_production)

wsgi_app = "caly.wsgi:application"
bind = f"{_env['BIND_ADDRESS']}:{_env['PORT']}"
workers = _env["WEB_CONCURRENCY"] or 2 * multiprocessing.cpu_count()
worker_class = "gthread"
threads = _env["GUNICORN_THREADS"]
timeout = _env["GUNICORN_TIMEOUT"]
graceful_timeout = _env["GUNICORN_GRACEFUL_TIMEOUT"]
keepalive = 5
preload_app = False
# One shared control socket per user would collide between instances on one host; signals suffice.
control_socket_disable = True
# Recycle workers now and then so a slow leak cannot grow without bound; jitter avoids all at once.
max_requests = 5000
max_requests_jitter = 500
# Django's access log middleware writes one structured line per request; gunicorn's would repeat it.
accesslog = None
# gunicorn's own lines (boot, worker exits, timeouts) in the same format as the application's.
logconfig_dict = build_logging_config(
    fmt=_env["LOG_FORMAT"] or ("json" if _production else "text"), level=_env["LOG_LEVEL"].upper()
)
logconfig_dict["loggers"]["gunicorn.error"] = {"level": "INFO", "handlers": ["stdout"], "propagate": False}
