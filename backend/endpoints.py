"""Pieces every API view shares: input parsing, write throttling, sign-in, downloads."""
import functools

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from .errors import ApiError, ErrorOut
from .throttling import WriteThrottle


def parse_input(serializer_class, data) -> dict:
    """Validated data, or a ValidationError the error handler turns into `invalid_request`."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def accepts(body, responses: dict, **schema):
    """A view method that takes a JSON body: it is called with the `body`
    serializer's validated data after `request` (a bad body is a 400
    `invalid_request` before it runs). The schema documents the same
    serializer and that 400 from this one declaration, so the two cannot drift."""

    def decorate(method):
        @functools.wraps(method)
        def view(self, request, *args, **kwargs):
            return method(self, request, parse_input(body, request.data), *args, **kwargs)

        return extend_schema(request=body, responses=dict(sorted({**responses, 400: ErrorOut}.items())), **schema)(view)

    return decorate


class WriteThrottled(APIView):
    throttle_classes = [WriteThrottle]
    throttle_scope = "writes"


class SignedIn(BasePermission):
    """Only a signed-in account may use the view; the view's `sign_in_to`
    ends the sentence "Sign in to ..." that a signed-out browser is told."""

    def has_permission(self, request, view) -> bool:
        if request.method == "OPTIONS" or request.user.is_authenticated:
            return True
        # Raised, not returned: DRF answers a refused sessionless request with
        # its own `not_authenticated`, and clients rely on `not_signed_in`.
        raise ApiError(status.HTTP_403_FORBIDDEN, "not_signed_in", f"Sign in to {view.sign_in_to}.")


class Download(APIView):
    """A view that answers with a file; its errors stay JSON whatever the client accepts."""

    def perform_content_negotiation(self, request, force=False):
        # A download link may send `Accept: text/markdown`; our only renderer is
        # JSON (for errors), and a 406 would help nobody.
        return super().perform_content_negotiation(request, force=True)


def download_schema(summary: str):
    """The schema of a Download view's GET: the file as Markdown or text, or 404."""
    return extend_schema(
        responses={(200, "text/markdown"): str, (200, "text/plain"): str, 404: ErrorOut},
        summary=summary,
        description="`?highlight=1` wraps the model's words in `<mark data-model>` (Markdown only).",
    )
