"""The Content-Security-Policy header on every response (settings.CONTENT_SECURITY_POLICY).

Django 5.2 has no CSP support of its own (6.0 does); one header needs no
package. A view that sets its own policy keeps it.
"""
from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
