"""The client's real address, the one every throttle, lockout and vote cap counts.

The TCP peer is the client unless it is one of settings.TRUSTED_PROXIES
(default: none). Only then is X-Forwarded-For read, from the right: each
trusted proxy appended the address it saw, so the first entry from the right
that is not a trusted proxy is the client. Entries further left were written
by the client itself and are never believed.
"""
from __future__ import annotations

import ipaddress

from django.conf import settings


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def real_address(peer: str, forwarded_for: str | None) -> str:
    """The client's address given the TCP peer and the X-Forwarded-For header."""
    if not peer or not _trusted(peer) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # A malformed entry: whoever wrote it is not a proxy we trust, so
            # the last good address (a trusted proxy's peer) is the client.
            return address
        address = hop
        if not _trusted(hop):
            return hop
    return address


class RealClientAddressMiddleware:
    """Puts the real address in REMOTE_ADDR and drops X-Forwarded-For, so
    nothing later (DRF's get_ident, axes, logs) can read a spoofed one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        meta["REMOTE_ADDR"] = real_address(meta.get("REMOTE_ADDR", ""), meta.pop("HTTP_X_FORWARDED_FOR", None))
        return self.get_response(request)


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def axes_client_address(request) -> str:
    """AXES_CLIENT_IP_CALLABLE: the address the middleware settled on."""
    return client_address(request)
