"""Failed sign-ins per account, with exponential backoff (on django-axes).

Axes records each failure against the username (whatever address it came
from) and resets the count on success. This handler decides how long an
account stays locked: from settings.AXES_FAILURE_LIMIT failures on,
LOCKOUT_BASE_SECONDS after the latest failure, doubled for every failure
beyond the limit, at most LOCKOUT_MAX_SECONDS. Attempts during a lockout are
refused before the password is checked and not counted, so the owner gets
back in when it ends, and a guesser gets one try per ever longer wait.
"""
from __future__ import annotations

import math
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpResponse, JsonResponse
from django.utils import timezone


def lockout_seconds(failures: int) -> int:
    """How long an account with this many recent failures stays locked after the latest."""
    over = failures - settings.AXES_FAILURE_LIMIT
    if over < 0:
        return 0
    # 2**over overflows nothing: the exponent is capped before the multiply.
    doublings = min(over, 40)
    return min(settings.LOCKOUT_BASE_SECONDS * 2**doublings, settings.LOCKOUT_MAX_SECONDS)


class BackoffHandler(AxesDatabaseHandler):
    def locked_for(self, request, credentials=None) -> float:
        """Seconds until this account may try again (0: now)."""
        failures, latest = 0, None
        for attempts in self.get_user_attempts(request, credentials):
            row = attempts.aggregate(failures=Sum("failures_since_start"), latest=Max("attempt_time"))
            if (row["failures"] or 0) > failures:
                failures, latest = row["failures"], row["latest"]
        if latest is None:
            return 0.0
        until = latest + timedelta(seconds=lockout_seconds(failures))
        return max(0.0, (until - timezone.now()).total_seconds()) if lockout_seconds(failures) else 0.0

    def is_locked(self, request, credentials=None) -> bool:
        return self.locked_for(request, credentials) > 0


def locked_out_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with a Retry-After; the API's error shape on /api/."""
    from axes.handlers.proxy import AxesProxyHandler

    handler = AxesProxyHandler.get_implementation()
    credentials = credentials if isinstance(credentials, dict) else getattr(request, "axes_credentials", None)
    wait = max(1, math.ceil(handler.locked_for(request, credentials))) if hasattr(handler, "locked_for") else 60
    when = f"{wait} seconds" if wait < 120 else f"{math.ceil(wait / 60)} minutes"
    message = f"Too many failed sign-ins for this account; it is locked for {when}. Try again then, or reset the password."
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"code": "locked_out", "message": message, "retry_after": wait}, status=429)
    else:
        response = HttpResponse(message + "\n", status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait)
    return response
