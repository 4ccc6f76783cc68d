"""Rate limits on API writes, sign-ups and the admin's sign-in page.

Every counter is keyed by the real client address (backend.client_address)
or the signed-in user, never by a header the client writes.
"""
import logging

from django.http import HttpResponse
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from .client_address import client_address

log = logging.getLogger(__name__)


class WriteThrottle(ScopedRateThrottle):
    """ScopedRateThrottle for unsafe methods only: reading is free, autosaves
    and creates are counted per user or client address.

    The counters live in the cache (Redis); if it is down, writes go through
    rather than fail, because losing a draft is worse than a burst.
    """

    def get_ident(self, request):
        return client_address(request)

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        try:
            return super().allow_request(request, view)
        except Exception as e:  # noqa: BLE001 - any cache backend error
            log.warning("write throttle skipped, cache unavailable: %r", e)
            return True


class AddressThrottle(SimpleRateThrottle):
    """Counted per client address only, signed in or not: sign-ups (one
    person needs one account) and the admin's sign-in form."""

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def get_ident(self, request):
        return client_address(request)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as e:  # noqa: BLE001 - a dead cache must not lock everyone out
            log.warning("%s throttle skipped, cache unavailable: %r", self.scope, e)
            return True


class SignUpThrottle(AddressThrottle):
    def __init__(self):
        super().__init__("signup")


class AdminLoginThrottleMiddleware:
    """/admin/login/ gets the API's sign-in budget per client address
    (settings.AUTH_THROTTLE_RATE); axes locks the account on top of it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path_info.startswith("/admin/login"):
            throttle = AddressThrottle("auth")
            if not throttle.allow_request(request, None):
                wait = int(throttle.wait() or 1) + 1
                response = HttpResponse(
                    f"Too many sign-in attempts from your address; try again in {wait} seconds.\n",
                    status=429, content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)
