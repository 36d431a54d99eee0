from django.apps import AppConfig


class CalyConfig(AppConfig):
    name = "caly"
    verbose_name = "Caly"

    def ready(self):
        # Every process (gunicorn worker, db_worker, manage.py) passes here once, after the fork:
        # the metrics' task signal receivers connect, and Sentry / OpenTelemetry start if configured.
        from caly import metrics, observability  # noqa: F401

        observability.init()
