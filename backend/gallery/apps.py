from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "backend.gallery"
    label = "gallery"
    verbose_name = "Gallery: votes, flags and moderation"
