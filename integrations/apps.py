from django.apps import AppConfig

from recordings.signals import call_saved


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from integrations.shopify.linking import call_saved_received

        call_saved.connect(call_saved_received, dispatch_uid="integrations.shopify.linking")
