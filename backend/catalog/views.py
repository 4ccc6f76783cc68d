from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import list_models

_ModelOut = inline_serializer(
    "Model",
    {
        "route": serializers.CharField(),
        "name": serializers.CharField(),
        "genre": serializers.CharField(),
        "description": serializers.CharField(),
        "available": serializers.BooleanField(),
        "reason": serializers.CharField(),
        "limits": inline_serializer(
            "ModelLimits",
            {
                "max_new_tokens": serializers.IntegerField(),
                "max_n": serializers.IntegerField(),
                "context": serializers.IntegerField(),
                "max_prompt_chars": serializers.IntegerField(),
            },
        ),
    },
    many=True,
)


class ModelListView(APIView):
    @extend_schema(responses=_ModelOut, summary="Models from the registry, with live availability")
    def get(self, request):
        return Response(list_models())
