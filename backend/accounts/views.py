"""Accounts API for the single-page app: session cookies plus CSRF, no tokens."""
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from backend.documents.owners import owner_for_request
from backend.endpoints import SignedIn, WriteThrottled, accepts
from backend.errors import ErrorOut
from backend.throttling import SignUpThrottle, WriteThrottle

from . import selectors, services
from .serializers import (
    AccountOut,
    DeleteAccountIn,
    MessageOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    SessionOut,
    SignedInOut,
    SignInIn,
    SignUpIn,
)

def _session(request, **extra) -> dict:
    user = request.user if request.user.is_authenticated else None
    return {
        "user": {"username": user.get_username(), "email": user.email} if user else None,
        # Django rotates the token on sign-in and out; the page must use the new one.
        "csrf": get_token(request),
        **extra,
    }


class SessionView(WriteThrottled):
    """Who the browser is, plus the CSRF token every write must send as X-CSRFToken."""

    @extend_schema(responses=SessionOut)
    def get(self, request):
        # Reading creates nothing: no session row for a bare visit (a crawler
        # or a flood of GETs would fill the table). The anonymous writer
        # starts with the first draft; the compose socket re-reads the
        # session when it watches one.
        return Response(_session(request))

    @extend_schema(request=None, responses=SessionOut, summary="Start this browser's anonymous writer (its session)")
    def post(self, request):
        # A CSRF-checked, throttled write: the editor calls it before opening
        # its compose socket, so the socket and the first draft agree on the writer.
        owner_for_request(request, create=True)
        return Response(_session(request))


class AuthThrottled(WriteThrottled):
    # Password guessing gets a far tighter budget than autosaves.
    throttle_scope = "auth"


class SignUpView(AuthThrottled):
    # Also a few accounts an hour per client address: votes need accounts.
    throttle_classes = [WriteThrottle, SignUpThrottle]

    @accepts(
        SignUpIn,
        {201: SignedInOut, 409: ErrorOut, 429: ErrorOut},
        summary="Create an account and sign in; this browser's drafts move to it",
        description="409 `username_taken` names a taken username (usernames are public). An e-mail address "
        "that already has an account is not refused, so the answer never tells which addresses have accounts: "
        "the existing account's owner is told by e-mail.",
    )
    def post(self, request, data):
        _, moved = services.sign_up(request, **data)
        return Response(_session(request, moved_drafts=moved), status=status.HTTP_201_CREATED)


class SignInView(AuthThrottled):
    @accepts(SignInIn, {200: SignedInOut, 429: ErrorOut}, summary="Sign in by username or e-mail; this browser's drafts move to the account")
    def post(self, request, data):
        _, moved = services.sign_in(request, login_name=data["login"], password=data["password"])
        return Response(_session(request, moved_drafts=moved))


class SignOutView(WriteThrottled):
    @extend_schema(request=None, responses={200: SessionOut}, summary="Sign out (signed-out browsers start a fresh session)")
    def post(self, request):
        services.sign_out(request)
        return Response(_session(request))


class PasswordResetView(AuthThrottled):
    @accepts(
        PasswordResetIn,
        {202: MessageOut, 429: ErrorOut},
        summary="E-mail a password reset link",
        description="Answers the same whether or not an account has this address.",
    )
    def post(self, request, data):
        # The link starts with settings.SITE_URL, never the request's Host.
        services.send_password_reset(data["email"])
        return Response(
            {"message": "If an account has this address, a reset link is on its way. Check your e-mail."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(AuthThrottled):
    @accepts(PasswordResetConfirmIn, {200: SignedInOut, 429: ErrorOut}, summary="Set a new password from the e-mailed link, and sign in")
    def post(self, request, data):
        _, moved = services.reset_password(request, **data)
        return Response(_session(request, moved_drafts=moved))


class AccountView(AuthThrottled):
    permission_classes = [SignedIn]
    sign_in_to = "see or change your account"

    @extend_schema(responses={200: AccountOut, 403: ErrorOut}, summary="The signed-in account")
    def get(self, request):
        return Response(AccountOut(selectors.account_summary(request.user)).data)

    @accepts(
        DeleteAccountIn,
        {204: None, 403: ErrorOut},
        summary="Delete the account and everything it owns (confirm with the password)",
    )
    def delete(self, request, data):
        services.delete_account(request, password=data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
