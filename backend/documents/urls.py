from django.urls import path, re_path

from . import views

urlpatterns = [
    path("documents/", views.DocumentListView.as_view(), name="documents"),
    path("documents/<uuid:document_id>/", views.DocumentDetailView.as_view(), name="document"),
    path("documents/<uuid:document_id>/publish/", views.DocumentPublishView.as_view(), name="document-publish"),
    re_path(
        r"^documents/(?P<document_id>[0-9a-fA-F-]{32,36})/export\.(?P<fmt>md|txt)$",
        views.DocumentExportView.as_view(),
        name="document-export",
    ),
]
