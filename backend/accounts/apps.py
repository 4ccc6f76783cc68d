from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"
    verbose_name = "Writers and sessions"

    def ready(self):
        from . import schema  # noqa: F401 - registers the OpenAPI auth extension
        from .live import connect_receivers

        connect_receivers()
