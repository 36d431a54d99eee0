from django.apps import AppConfig

from recordings.signals import call_changed, call_saved, recording_changed


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from integrations.shopify.linking import call_saved_received

        call_saved.connect(call_saved_received, dispatch_uid="integrations.shopify.linking")

        from integrations.outbound.events import call_changed_received, recording_changed_received

        call_changed.connect(call_changed_received, dispatch_uid="integrations.outbound.calls")
        recording_changed.connect(recording_changed_received, dispatch_uid="integrations.outbound.recordings")
