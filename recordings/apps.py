from django.apps import AppConfig
from django.core import checks

from recordings.call_context import call_context_check
from recordings.providers import providers_check


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = "Calls and recordings"

    def ready(self):
        checks.register(providers_check)
        checks.register(call_context_check)
