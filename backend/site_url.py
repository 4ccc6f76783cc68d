"""Absolute URLs of this site: og:url, canonical links, share_url, reset links."""
from django.conf import settings


def absolute_url(path: str) -> str:
    """settings.SITE_URL + path: never the request's Host or X-Forwarded-Proto,
    which a client (or a misrouted proxy) chooses."""
    return settings.SITE_URL + path
