"""Tells drf-spectacular that our session authentication is cookie auth."""
from drf_spectacular.authentication import SessionScheme


class CsrfSessionScheme(SessionScheme):
    target_class = "backend.accounts.authentication.CsrfSessionAuthentication"
    name = "cookieAuth"
