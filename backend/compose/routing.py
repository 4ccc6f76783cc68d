from django.urls import path

from .consumers import ComposeConsumer

websocket_urlpatterns = [path("ws/compose/", ComposeConsumer.as_asgi())]
