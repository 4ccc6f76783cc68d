"""Session authentication that checks CSRF on every write.

DRF's SessionAuthentication only checks CSRF for signed-in users, but an
anonymous writer's drafts hang off their session cookie too, so a foreign page
must not be able to write with it either.
"""
from rest_framework.authentication import SessionAuthentication


class CsrfSessionAuthentication(SessionAuthentication):
    def authenticate(self, request):
        user = getattr(request._request, "user", None)
        self.enforce_csrf(request)  # a no-op for GET/HEAD/OPTIONS
        if user is None or not user.is_active or not user.is_authenticated:
            return None
        return (user, None)
