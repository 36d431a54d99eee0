from django.apps import AppConfig


class CompositionConfig(AppConfig):
    """The composition: what needs to know several apps (URLs, onboarding, demo data, staff pages, dbdoctor).

    An app of its own so that its management commands (seed_demo, onboard_client, dbdoctor) are found.
    """

    name = "caly"
    label = "composition"
    verbose_name = "Caly"
