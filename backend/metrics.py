"""The backend's own Prometheus metrics, besides django-prometheus's HTTP
latency and response counts, and the page Prometheus scrapes.

The page is not part of the public URL space: MetricsMiddleware answers
/metrics before any routing, and only to a TCP peer in
settings.METRICS_ALLOWED_NETWORKS (loopback by default) that did not come
through a proxy (no X-Forwarded-For); everyone else gets the app's 404.
"""
from __future__ import annotations

import ipaddress

from django.conf import settings
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Counter, Gauge

from .errors import not_found

COMPOSE_REQUESTS = Counter(
    "writeup_backend_compose_requests", "Generate requests the relay sent upstream", ["model"]
)
COMPOSE_IN_FLIGHT = Gauge(
    "writeup_backend_compose_requests_in_flight", "Generate requests sent upstream and not yet ended"
)
UPSTREAM_ERRORS = Counter(
    "writeup_backend_upstream_errors",
    "Generate requests that ended in an error from or about the model tier, by the code the writer got",
    ["model", "code"],
)
OVER_QUOTA = Counter(
    "writeup_backend_over_quota", "Generate requests refused because their writer's budget was full", ["writer_class"]
)
AUTOSAVE_CONFLICTS = Counter(
    "writeup_backend_autosave_conflicts", "Draft saves refused because another tab saved first (VersionConflict)"
)

PATH = "/metrics"


def _allowed(meta) -> bool:
    if meta.get("HTTP_X_FORWARDED_FOR"):
        return False  # through a proxy: a public request, whatever the peer
    try:
        peer = ipaddress.ip_address(meta.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in settings.METRICS_ALLOWED_NETWORKS)


class MetricsMiddleware:
    """Answers /metrics to trusted peers; first in the chain, so it sees the
    TCP peer before RealClientAddressMiddleware replaces it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != PATH:
            return self.get_response(request)
        if not _allowed(request.META):
            return not_found(request, None)
        return ExportToDjangoView(request)
