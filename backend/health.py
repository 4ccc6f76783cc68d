"""`GET /api/health/`: is this backend process able to serve? For load
balancers and supervisors: 200 when the database answers; Redis is reported
but optional (only live sync between tabs needs it)."""
import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

log = logging.getLogger(__name__)


def health(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as e:  # noqa: BLE001
        log.error("health: database failed: %r", e)
        checks["database"] = "down"
    try:
        cache.get("health-probe")
        checks["redis"] = "ok"
    except Exception:  # noqa: BLE001
        checks["redis"] = "down"
    ok = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ok else "down", **checks}, status=200 if ok else 503)
