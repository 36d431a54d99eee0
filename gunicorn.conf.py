"""gunicorn settings, read from the same env module as Django.

Validation runs here, in the master, before any worker starts: a broken production
environment stops gunicorn with one message instead of a crash loop of workers.

preload_app is off on purpose: `kill -HUP` then loads new code into fresh workers (zero-downtime
reload), and a worker that crashes at import cannot take the master down with it.
"""

import multiprocessing
import os
import shutil
import tempfile

from caly.foundation import env
from caly.foundation.logging import build_logging_config

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

# Prometheus multi-process mode (caly/foundation/prometheus_multiprocess.py): workers write their metrics to
# files in one folder and /metrics adds them up. The folder goes into the master's environment before
# any worker forks; a temporary one is made when PROMETHEUS_MULTIPROC_DIR is unset.
_TEMPORARY_METRICS_PREFIX = "caly-metrics-"


def on_starting(server):
    path = _env["PROMETHEUS_MULTIPROC_DIR"] or tempfile.mkdtemp(prefix=_TEMPORARY_METRICS_PREFIX)
    # Set before prometheus-client is first imported: it picks its storage at import, and the
    # workers inherit the master's imported modules.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    from caly.foundation import prometheus_multiprocess

    prometheus_multiprocess.prepare(path)


def post_worker_init(worker):
    from caly.warmup import prepare_worker

    prepare_worker()
    # "Booting worker" is logged at fork; this once the application is loaded and requests are taken.
    # A rolling restart waits for it (docs/operations.md, Restarts and draining).
    worker.log.info("Worker ready (pid: %s)", worker.pid)


def child_exit(server, worker):
    from caly.foundation import prometheus_multiprocess

    prometheus_multiprocess.fold_dead_process(worker.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_exit(server):
    if server.reexec_pid:
        return  # after USR2 the new master inherited the folder and its workers write to it still
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    made_here = os.path.dirname(path) == tempfile.gettempdir()
    if made_here and os.path.basename(path).startswith(_TEMPORARY_METRICS_PREFIX):
        shutil.rmtree(path, ignore_errors=True)
