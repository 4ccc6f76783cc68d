from django.urls import path

from . import views

urlpatterns = [
    path("documents/", views.DocumentListView.as_view(), name="documents"),
    path("documents/<uuid:document_id>/", views.DocumentDetailView.as_view(), name="document"),
    path("documents/<uuid:document_id>/publish/", views.DocumentPublishView.as_view(), name="document-publish"),
    path("shared/<str:share_id>/", views.SharedDocumentView.as_view(), name="shared"),
]
