"""The built editor (Vite's frontend/dist), served by Django in the one-machine setup.

WhiteNoise serves the files themselves; this view answers every other
non-API path with index.html, so the editor's client-side routes survive a
reload or a shared link. Crawlers and link previews do not run JavaScript, so
the page's <title> and its Open Graph / Twitter card tags are written here,
per route: a shared piece gets its own title and opening lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpResponse

from backend.documents.models import Visibility
from backend.documents.selectors import shared_document
from backend.site_url import absolute_url

SITE = "writeup"
TAGLINE = "Write with a language model that suggests as you type."
DESCRIPTION_CHARS = 200

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

# Pages with a fixed title; routes not listed get the site's own.
_TITLES = {
    "gallery": ("Gallery", "Pieces written with writeup, newest and most liked."),
    "signin": ("Sign in", TAGLINE),
    "signup": ("Create an account", TAGLINE),
    "reset": ("Reset your password", TAGLINE),
    "account": ("Your account", TAGLINE),
}
_SHARE = re.compile(r"s/([\w-]{1,128})/?")
_TITLE_TAG = re.compile(r"<title>.*?</title>", re.S | re.I)
_DESCRIPTION_TAG = re.compile(r'<meta\s+name="description"[^>]*>\s*', re.I)


@dataclass
class PageMeta:
    title: str
    description: str = TAGLINE
    kind: str = "website"
    url: str | None = None
    indexable: bool = True
    status: int = 200

    def tags(self) -> str:
        title, description = escape(self.title), escape(self.description)
        lines = [
            f"<title>{title}</title>",
            f'<meta name="description" content="{description}" />',
            f'<meta property="og:site_name" content="{SITE}" />',
            f'<meta property="og:type" content="{self.kind}" />',
            f'<meta property="og:title" content="{title}" />',
            f'<meta property="og:description" content="{description}" />',
            '<meta name="twitter:card" content="summary" />',
            f'<meta name="twitter:title" content="{title}" />',
            f'<meta name="twitter:description" content="{description}" />',
        ]
        if self.url:
            lines.append(f'<meta property="og:url" content="{escape(self.url)}" />')
            lines.append(f'<link rel="canonical" href="{escape(self.url)}" />')
        if not self.indexable:
            lines.append('<meta name="robots" content="noindex" />')
        return "\n    ".join(lines)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DESCRIPTION_CHARS else flat[: DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"


def page_meta(request, path: str) -> PageMeta:
    """What a crawler should see for this client route."""
    share = _SHARE.fullmatch(path)
    if share:
        try:
            piece = shared_document(share.group(1))
        except DatabaseError:
            # The page itself must still load; it will say what is wrong.
            return PageMeta(f"Shared piece · {SITE}", TAGLINE, indexable=False)
        if piece is None:
            return PageMeta(f"Not published · {SITE}", "This piece is not published (any more).",
                            indexable=False, status=404)
        title = piece.published_title.strip() or "Untitled"
        by = f" by {piece.owner.get_username()}" if piece.owner_id else ""
        return PageMeta(
            f"{title} · {SITE}",
            _excerpt(piece.published_body) or f"A piece{by} written with {SITE}.",
            kind="article",
            url=absolute_url(f"/s/{piece.share_id}"),
            # Link-only pieces stay out of search engines.
            indexable=piece.visibility == Visibility.PUBLIC,
        )
    first = path.strip("/").split("/", 1)[0]
    if first in _TITLES:
        title, description = _TITLES[first]
        return PageMeta(f"{title} · {SITE}", description, url=absolute_url(f"/{first}"),
                        indexable=first == "gallery")
    # Drafts are private; the editor's home is the site itself.
    return PageMeta(SITE, TAGLINE, indexable=path.strip("/") == "")


def _with_meta(html: str, meta: PageMeta) -> str:
    html = _DESCRIPTION_TAG.sub("", html, count=1)
    tags = meta.tags()
    if _TITLE_TAG.search(html):
        return _TITLE_TAG.sub(lambda _: tags, html, count=1)
    return html.replace("</head>", f"    {tags}\n  </head>", 1)


def index(request, path=""):
    if "." in path.rsplit("/", 1)[-1]:
        # A missing file (say an old build's hashed asset) must 404, not get
        # the editor's HTML in place of JavaScript.
        raise Http404(path)
    index_html = Path(settings.FRONTEND_DIST) / "index.html"
    try:
        html = index_html.read_text(encoding="utf-8")
    except OSError:
        html = PLACEHOLDER
    meta = page_meta(request, path)
    # A dead share link answers 404 to crawlers too; the page still loads
    # and tells a person so.
    response = HttpResponse(_with_meta(html, meta), content_type="text/html; charset=utf-8", status=meta.status)
    # index.html names the hashed asset files of the current build: never cache it.
    response["Cache-Control"] = "no-cache"
    return response
