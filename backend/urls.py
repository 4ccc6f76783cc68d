from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import frontend, health

api = [
    path("", include("backend.accounts.urls")),
    path("", include("backend.catalog.urls")),
    path("", include("backend.documents.urls")),
    path("", include("backend.gallery.urls")),
    path("health/", health.health, name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own
    # (no inline script, so the strict CSP holds); its assets come from
    # drf-spectacular-sidecar's static files, not a CDN.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("api/", include(api)),
    path("admin/", admin.site.urls),
    # Everything else is a route of the single-page editor.
    re_path(r"^(?!api/|ws/|admin/|static/)(?P<path>.*)$", frontend.index, name="frontend"),
]

handler404 = "backend.errors.not_found"
handler500 = "backend.errors.server_failure"
