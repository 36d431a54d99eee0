from django.apps import AppConfig


class FoundationConfig(AppConfig):
    """The layer every app stands on. Its label stays "caly", so its tables and migration history keep their names."""

    name = "caly.foundation"
    label = "caly"
    verbose_name = "Caly"

    def ready(self):
        # Every process (gunicorn worker, db_worker, manage.py) passes here once, after the fork:
        # the metrics' and request ids' task signal receivers connect, and Sentry / OpenTelemetry start if
        # configured.
        from caly.foundation import metrics, observability, tasks  # noqa: F401

        observability.init()
