"""Pieces every API view shares: input parsing, write throttling, sign-in, downloads."""
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from .errors import ApiError
from .throttling import WriteThrottle


def parse_input(serializer_class, data) -> dict:
    """Validated data, or a ValidationError the error handler turns into `invalid_request`."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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
