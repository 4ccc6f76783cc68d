"""Gallery API: public pieces, votes and flags; a piece's read-only page and downloads."""
from django.utils.http import urlencode
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.client_address import client_address
from backend.documents import export
from backend.endpoints import Download, SignedIn, WriteThrottled, accepts, download_schema, parse_input
from backend.errors import ErrorOut, found

from . import selectors, services
from .serializers import FlagIn, FlagOut, GalleryOut, GalleryQuery, PieceCardOut, SharedOut, VoteIn, VoteOut


class GalleryView(APIView):
    @extend_schema(
        parameters=[GalleryQuery],
        responses={200: GalleryOut, 400: ErrorOut, 404: ErrorOut},
        summary="Public pieces, newest or top (votes with a time decay), 20 a page",
    )
    def get(self, request):
        query = parse_input(GalleryQuery, request.query_params)
        page = selectors.gallery_page(user=request.user, **query)

        def link(number):
            return f"{request.path}?{urlencode({**query, 'page': number})}"

        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "next": link(page.next_page_number()) if page.has_next() else None,
                "previous": link(page.previous_page_number()) if page.has_previous() else None,
                "genres": selectors.gallery_genres(),
                "results": PieceCardOut(page.object_list, many=True).data,
            }
        )


class SharedPieceView(APIView):
    @extend_schema(responses={200: SharedOut, 404: ErrorOut}, summary="A published piece, read-only")
    def get(self, request, share_id):
        piece = found(selectors.piece(share_id, request.user))
        return Response(SharedOut(piece).data)


class PieceExportView(Download):
    @download_schema("Download a published piece as Markdown (.md) or plain text (.txt)")
    def get(self, request, share_id, fmt):
        piece = found(selectors.piece(share_id))
        return export.download(request, piece.published_title, piece.published_body, piece.published_spans, fmt)


class PieceVoteView(WriteThrottled):
    permission_classes = [SignedIn]
    sign_in_to = "vote"

    def _answer(self, request, share_id, value):
        document = services.vote(request.user, share_id, value, address=client_address(request))
        return Response(selectors.vote_counts(document, request.user))

    @accepts(
        VoteIn,
        {200: VoteOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
        summary="Vote +1 or -1 (again: changes it; 0 takes it back)",
    )
    def post(self, request, data, share_id):
        return self._answer(request, share_id, data["value"])

    @extend_schema(responses={200: VoteOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}, summary="Take the vote back")
    def delete(self, request, share_id):
        return self._answer(request, share_id, 0)


class PieceFlagView(WriteThrottled):
    permission_classes = [SignedIn]
    sign_in_to = "flag a piece"

    @accepts(FlagIn, {200: FlagOut, 403: ErrorOut, 404: ErrorOut}, summary="Report a piece to the moderators")
    def post(self, request, data, share_id):
        services.flag(request.user, share_id, data["reason"])
        return Response({"flagged": True})

