"""Rate limits on API writes."""
import logging

from rest_framework.throttling import ScopedRateThrottle

log = logging.getLogger(__name__)


class WriteThrottle(ScopedRateThrottle):
    """ScopedRateThrottle for unsafe methods only: reading is free, autosaves
    and creates are counted per user or client address.

    The counters live in the cache (Redis); if it is down, writes go through
    rather than fail, because losing a draft is worse than a burst.
    """

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        try:
            return super().allow_request(request, view)
        except Exception as e:  # noqa: BLE001 - any cache backend error
            log.warning("write throttle skipped, cache unavailable: %r", e)
            return True
