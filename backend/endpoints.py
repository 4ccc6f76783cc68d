"""Pieces every API view shares: input parsing, write throttling, downloads."""
from rest_framework.views import APIView

from .throttling import WriteThrottle


def parse_input(serializer_class, data) -> dict:
    """Validated data, or a ValidationError the error handler turns into `invalid_request`."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WriteThrottled(APIView):
    throttle_classes = [WriteThrottle]
    throttle_scope = "writes"


class Download(APIView):
    """A view that answers with a file; its errors stay JSON whatever the client accepts."""

    def perform_content_negotiation(self, request, force=False):
        # A download link may send `Accept: text/markdown`; our only renderer is
        # JSON (for errors), and a 406 would help nobody.
        return super().perform_content_negotiation(request, force=True)
