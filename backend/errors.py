"""Every API error is `{"code": "...", "message": "..."}` with the right status."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponseNotFound, JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler


class ServiceError(Exception):
    """A refusal by a service or selector: an HTTP status, a stable `code`, a
    human sentence and any `extra` fields of the body. Views do not catch
    these; `api_exception_handler` below is the one place they become
    responses (HackSoft's "approach 2")."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_request"
    message = "The request was refused."

    def __init__(self, message: str | None = None, **extra):
        if message is not None:
            self.message = message
        super().__init__(self.message)
        self.extra = extra


class Missing(ServiceError, LookupError):
    """A thing that does not exist for this owner: 404 `not_found`, and the
    answer never says whether it exists for someone else. `what` is for logs."""

    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    message = "Not found, or not yours."

    def __init__(self, what=None):
        super().__init__()
        self.what = what


def found(thing):
    """What a selector found, or the 404 `not_found` when it found nothing."""
    if thing is None:
        raise Missing()
    return thing


class ErrorOut(serializers.Serializer):
    """The body of every API error (for the OpenAPI schema)."""

    code = serializers.CharField()
    message = serializers.CharField()


class ApiError(exceptions.APIException):
    """An error with our own stable code; `extra` fields go into the body.
    Services raise a ServiceError instead; the handler turns it into this."""

    def __init__(self, status_code: int, code: str, message: str, **extra):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.extra = extra


def _first_message(detail) -> str:
    """The first human sentence in a DRF error detail, prefixed by its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            msg = _first_message(value)
            return msg if field == "non_field_errors" else f"{field}: {msg}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        exc = ApiError(exc.status_code, exc.code, exc.message, **exc.extra)
    # DRF turns Django's own 404/403 into responses but hands us the originals.
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    extra = {}
    if isinstance(exc, ApiError):
        code, message, extra = exc.code, str(exc.detail), exc.extra
    elif isinstance(exc, exceptions.ValidationError):
        code, message, extra = "invalid_request", _first_message(exc.detail), {"errors": exc.detail}
    elif isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed"):
        code, message = "csrf_failed", f"{exc.detail} Fetch /api/session/ and send its token as X-CSRFToken."
    elif isinstance(exc, exceptions.NotFound):
        code, message = "not_found", "Not found, or not yours."
    elif isinstance(exc, exceptions.Throttled):
        code = "throttled"
        wait = f" in {int(exc.wait) + 1} s" if exc.wait is not None else " shortly"
        message = f"Too many changes in a short time; try again{wait}."
    else:
        code, message = getattr(exc, "default_code", "error"), _first_message(exc.detail)
    response.data = {"code": code, "message": message, **extra}
    return response


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"code": "not_found", "message": f"No API endpoint at {request.path}."}, status=404)
    return page_not_found(request, exception) if exception else HttpResponseNotFound()


def server_failure(request):
    if _wants_json(request):
        return JsonResponse(
            {"code": "internal_error", "message": "Something broke on the server; it has been logged."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return server_error(request)
