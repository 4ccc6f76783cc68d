from django.apps import AppConfig


class ComposeConfig(AppConfig):
    name = "backend.compose"
    label = "compose"
    verbose_name = "Compose relay"
