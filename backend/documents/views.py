"""Documents API: parse, call one service or selector, shape the answer."""
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from backend.catalog.selectors import genre_by_route
from backend.endpoints import Download, WriteThrottled, accepts, download_schema
from backend.errors import ErrorOut, found
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

    @accepts(DocumentCreateIn, {201: DocumentOut}, summary="Start a draft")
    def post(self, request, data):
        document = services.create_document(owner_for_request(request, create=True), **data)
        return Response(DocumentOut(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailView(WriteThrottled):
    @extend_schema(responses={200: DocumentOut, 404: ErrorOut})
    def get(self, request, document_id):
        document = found(selectors.document_of(owner_for_request(request, create=False), document_id))
        return Response(DocumentOut(document).data)

    @accepts(
        DocumentPatchIn,
        {200: DocumentOut, 404: ErrorOut, 409: ConflictOut},
        summary="Autosave",
        description="Saves only if the draft is still at `version`; otherwise 409 with the current draft.",
    )
    def patch(self, request, data, document_id):
        document = services.autosave(owner_for_request(request, create=False), document_id, **data)
        return Response(DocumentOut(document).data)

    @extend_schema(responses={204: None, 404: ErrorOut})
    def delete(self, request, document_id):
        services.delete_document(owner_for_request(request, create=False), document_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentPublishView(WriteThrottled):
    @accepts(
        PublishIn,
        {200: PublishOut, 403: ErrorOut, 404: ErrorOut},
        summary="Publish (or refresh) the shared copy, unlisted or public",
    )
    def post(self, request, data, document_id):
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
    @download_schema("Download the draft as Markdown (.md) or plain text (.txt)")
    def get(self, request, document_id, fmt):
        document = found(selectors.document_of(owner_for_request(request, create=False), document_id))
        return export.download(request, document.title, document.body, document.spans, fmt)
