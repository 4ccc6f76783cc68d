from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .owners import owner_for_request

_SessionOut = inline_serializer(
    "Session",
    {
        "user": inline_serializer("SessionUser", {"username": serializers.CharField()}, allow_null=True),
        "csrf": serializers.CharField(),
    },
)


class SessionView(APIView):
    """Who the browser is, plus the CSRF token every write must send as X-CSRFToken."""

    @extend_schema(responses=_SessionOut)
    def get(self, request):
        # Start the writer here so the first draft and the compose socket agree on it.
        owner_for_request(request, create=True)
        user = request.user if request.user.is_authenticated else None
        return Response({"user": {"username": user.get_username()} if user else None, "csrf": get_token(request)})
