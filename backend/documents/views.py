"""Documents API: parse, call one service or selector, shape the answer."""
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from backend.catalog.selectors import genre_by_route
from backend.endpoints import Download, WriteThrottled, parse_input
from backend.errors import ErrorOut
from backend.site_url import absolute_url

from . import export, selectors, services
from .owners import owner_for_request
from .serializers import ConflictOut, DocumentCreateIn, DocumentOut, DocumentPatchIn, PublishIn, PublishOut

# A writer's list shows their recent drafts; older ones are still reachable by id.
LIST_LIMIT = 500


class DocumentListView(WriteThrottled):
    @extend_schema(responses=DocumentOut(many=True), summary="The requester's drafts, most recently saved first")
    def get(self, request):
        owner = owner_for_request(request, create=False)
        return Response(DocumentOut(selectors.documents_of(owner)[:LIST_LIMIT], many=True).data)

    @extend_schema(request=DocumentCreateIn, responses={201: DocumentOut, 400: ErrorOut}, summary="Start a draft")
    def post(self, request):
        data = parse_input(DocumentCreateIn, request.data)
        document = services.create_document(owner_for_request(request, create=True), **data)
        return Response(DocumentOut(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailView(WriteThrottled):
    @extend_schema(responses={200: DocumentOut, 404: ErrorOut})
    def get(self, request, document_id):
        document = selectors.document_of(owner_for_request(request, create=False), document_id)
        if document is None:
            raise Http404
        return Response(DocumentOut(document).data)

    @extend_schema(
        request=DocumentPatchIn,
        responses={200: DocumentOut, 400: ErrorOut, 404: ErrorOut, 409: ConflictOut},
        summary="Autosave",
        description="Saves only if the draft is still at `version`; otherwise 409 with the current draft.",
    )
    def patch(self, request, document_id):
        data = parse_input(DocumentPatchIn, request.data)
        document = services.autosave(owner_for_request(request, create=False), document_id, **data)
        return Response(DocumentOut(document).data)

    @extend_schema(responses={204: None, 404: ErrorOut})
    def delete(self, request, document_id):
        services.delete_document(owner_for_request(request, create=False), document_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentPublishView(WriteThrottled):
    @extend_schema(
        request=PublishIn,
        responses={200: PublishOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
        summary="Publish (or refresh) the shared copy, unlisted or public",
    )
    def post(self, request, document_id):
        data = parse_input(PublishIn, request.data)
        document = services.publish(
            owner_for_request(request, create=False), document_id,
            visibility=data.get("visibility"), genres=genre_by_route(),
        )
        return Response(
            {
                "share_id": document.share_id,
                "share_url": absolute_url(f"/s/{document.share_id}"),
                "visibility": document.visibility,
            }
        )

    @extend_schema(responses={204: None, 404: ErrorOut}, summary="Unpublish: the share link stops working")
    def delete(self, request, document_id):
        services.unpublish(owner_for_request(request, create=False), document_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentExportView(Download):
    @extend_schema(
        responses={(200, "text/markdown"): str, (200, "text/plain"): str, 404: ErrorOut},
        summary="Download the draft as Markdown (.md) or plain text (.txt)",
        description="`?highlight=1` wraps the model's words in `<mark data-model>` (Markdown only).",
    )
    def get(self, request, document_id, fmt):
        document = selectors.document_of(owner_for_request(request, create=False), document_id)
        if document is None:
            raise Http404
        highlight = request.query_params.get("highlight") in ("1", "true")
        return export.response(document.title, document.body, document.spans, fmt, highlight=highlight)
