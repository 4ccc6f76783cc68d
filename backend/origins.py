"""Which pages may open a compose socket: Origin compared as scheme + host + port.

Channels' OriginValidator matches a bare host on any scheme or port, so a
page on http://localhost:9999 could open a socket to the app on :8000 with
the writer's cookies. Here an Origin is accepted only if it is exactly one of
settings.WS_ALLOWED_ORIGINS (the site URL and the trusted origins) or the
socket's own origin: the same scheme, host and port as the handshake's Host,
for a host in ALLOWED_HOSTS (a rebinding DNS name is not).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _key(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, or None if it is not one."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def _own_origins(scope) -> list[tuple[str, str, int]]:
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1").lower()
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return []
    # A TLS-terminating proxy in front turns wss into ws; HTTPS says the page was https.
    schemes = {"wss": ["https"], "ws": ["http"]}.get(scope.get("scheme", "ws"), ["http"])
    if settings.HTTPS:
        schemes = ["https"]
    return [k for k in (_key(f"{scheme}://{host}") for scheme in schemes) if k]


def origin_allowed(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    origin = _key(headers.get(b"origin", b"").decode("latin-1"))
    if origin is None:
        return False
    allowed = {_key(o) for o in settings.WS_ALLOWED_ORIGINS}
    return origin in allowed or origin in _own_origins(scope)


class SameOriginValidator:
    """ASGI middleware: refuses the handshake (403) from any other origin.
    Reads the settings per connection, so tests can override them."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
