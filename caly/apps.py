from django.apps import AppConfig


class CalyConfig(AppConfig):
    name = "caly"
    verbose_name = "Caly"
