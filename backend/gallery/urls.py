from django.urls import path, re_path

from . import views

urlpatterns = [
    path("gallery/", views.GalleryView.as_view(), name="gallery"),
    path("shared/<str:share_id>/", views.SharedPieceView.as_view(), name="shared"),
    path("shared/<str:share_id>/vote/", views.PieceVoteView.as_view(), name="shared-vote"),
    path("shared/<str:share_id>/flag/", views.PieceFlagView.as_view(), name="shared-flag"),
    re_path(r"^shared/(?P<share_id>[\w-]{1,64})/export\.(?P<fmt>md|txt)$", views.PieceExportView.as_view(), name="shared-export"),
]
