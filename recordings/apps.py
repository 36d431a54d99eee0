from django.apps import AppConfig
from django.core import checks

from recordings.providers import providers_check


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = "Calls and recordings"

    def ready(self):
        checks.register(providers_check)
