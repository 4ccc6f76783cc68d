"""ASGI entry point: `daphne backend.asgi:application`.

HTTP goes to Django; WebSockets pass the origin check, then the session and
auth middleware (drafts belong to a session or a user), then the compose
consumer.
"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from backend.compose.routing import websocket_urlpatterns  # noqa: E402
from backend.origins import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin compared as scheme + host + port (backend/origins.py).
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
