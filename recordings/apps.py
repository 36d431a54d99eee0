from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_save

from accounts.signals import phone_registered
from recordings.call_context import call_context_check
from recordings.providers import providers_check


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = "Calls and recordings"

    def ready(self):
        from recordings.models import Call
        from recordings.services import call_saved_received, phone_registered_received

        checks.register(providers_check)
        checks.register(call_context_check)
        post_save.connect(call_saved_received, sender=Call, dispatch_uid="recordings.missed_calls")
        phone_registered.connect(phone_registered_received, dispatch_uid="recordings.agents")
