"""The built editor (Vite's frontend/dist), served by Django in the one-machine setup.

WhiteNoise serves the files themselves; this view answers every other
non-API path with index.html, so the editor's client-side routes survive a
reload or a shared link.
"""
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>writeup</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>writeup</h1>
<p>The backend is running, but the editor has not been built yet.
Run <code>npm run build</code> in <code>frontend/</code> (or <code>scripts/start</code>), then reload.</p>
<p>API: <a href="/api/models/">/api/models/</a> · <a href="/api/docs/">/api/docs/</a></p>
</body></html>
"""


def index(request, path=""):
    if "." in path.rsplit("/", 1)[-1]:
        # A missing file (say an old build's hashed asset) must 404, not get
        # the editor's HTML in place of JavaScript.
        raise Http404(path)
    index_html = Path(settings.FRONTEND_DIST) / "index.html"
    try:
        body, status = index_html.read_bytes(), 200
    except OSError:
        body, status = PLACEHOLDER.encode(), 200
    response = HttpResponse(body, content_type="text/html; charset=utf-8", status=status)
    # index.html names the hashed asset files of the current build: never cache it.
    response["Cache-Control"] = "no-cache"
    return response
