"""Accounts: sign up, sign in and out, password reset, deletion.

Signing up or in moves the browser session's anonymous drafts to the account
(see documents/owners.py), so a writer who starts without an account loses nothing.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework import status

from backend.documents.owners import WRITER_SESSION_KEY
from backend.documents.services import move_writer_drafts
from backend.errors import ServiceError

from . import selectors
from .live import sessions_changed

log = logging.getLogger(__name__)
User = get_user_model()
_BACKEND = "django.contrib.auth.backends.ModelBackend"


class AccountError(ServiceError):
    """A refusal with a stable `code` and a human sentence."""

    code = "account_error"


class UsernameTaken(AccountError):
    status_code = status.HTTP_409_CONFLICT
    code = "username_taken"


class WeakPassword(AccountError):
    code = "weak_password"

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages), errors={"password": messages})
        self.messages = messages


class InvalidCredentials(AccountError):
    code = "invalid_credentials"


class InvalidResetLink(AccountError):
    code = "invalid_reset_link"


class WrongPassword(AccountError):
    code = "wrong_password"


def _check_password_strength(password: str, user) -> None:
    try:
        validate_password(password, user)
    except ValidationError as e:
        raise WeakPassword(list(e.messages)) from None


def _sign_in(request, user) -> int:
    """Start the account's session and hand it this browser's anonymous
    drafts; returns how many moved."""
    # Read before login(): signing in over another account flushes the session.
    writer = request.session.get(WRITER_SESSION_KEY)
    moved = move_writer_drafts(writer, user.pk)
    login(request, user, backend=_BACKEND)
    request.session.pop(WRITER_SESSION_KEY, None)
    return moved


def sign_up(request, *, username: str, email: str, password: str):
    """Create an account and sign in; returns (user, drafts moved).

    An e-mail address that already has an account is not refused: the
    answer would tell anyone which addresses have accounts (the reset form
    hides that too). The new account is made all the same, and the existing
    account's owner gets an e-mail saying so. Sign-in by e-mail keeps
    finding the oldest account with the address."""
    if selectors.username_taken(username):
        raise UsernameTaken(f"The username {username!r} is taken; choose another.")
    existing = list(User.objects.filter(email__iexact=email, is_active=True))
    user = User(username=username, email=email)
    _check_password_strength(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Someone took the name between the check and the insert.
        raise UsernameTaken(f"The username {username!r} is taken; choose another.") from None
    for owner in existing:
        _tell_existing_owner(owner)
    return user, _sign_in(request, user)


def _tell_existing_owner(owner) -> None:
    body = render_to_string(
        "accounts/account_exists_email.txt",
        {"username": owner.get_username(), "site": settings.SITE_URL},
    )
    try:
        send_mail("Someone signed up to writeup with your e-mail address", body, None, [owner.email])
    except Exception:  # noqa: BLE001 - SMTP trouble is logged, never shown to the requester
        log.exception("account-exists e-mail to user %s failed", owner.pk)


def sign_in(request, *, login_name: str, password: str):
    """Sign in by username or e-mail; returns (user, drafts moved)."""
    user = selectors.user_for_login(login_name)
    # authenticate() hashes the password even for an unknown name, so the
    # answer takes as long either way and does not tell which names exist.
    username = user.get_username() if user else login_name
    # The plain HttpRequest: axes (failures per account, lockouts) marks it,
    # and its middleware answers 429 for a locked account.
    authenticated = authenticate(getattr(request, "_request", request), username=username, password=password)
    if authenticated is None:
        raise InvalidCredentials("That username or e-mail and password do not match an account.")
    return authenticated, _sign_in(request, authenticated)


def sign_out(request) -> None:
    user_id = request.user.pk if request.user.is_authenticated else None
    # logout() flushes the session: the next anonymous drafts start afresh.
    logout(request)
    if user_id is not None:
        # This session's sockets find it gone and close; other devices' stay.
        sessions_changed(user_id)


def send_password_reset(email: str, *, site: str | None = None) -> int:
    """E-mail a one-time reset link to each active account with this address.
    Returns how many were sent; callers must not tell the requester."""
    site = site or settings.SITE_URL
    sent = 0
    users = User.objects.filter(email__iexact=email, is_active=True)
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    for user in users:
        if not user.has_usable_password():
            continue
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        body = render_to_string(
            "accounts/password_reset_email.txt",
            {
                "username": user.get_username(),
                "link": f"{site}/reset/{uid}/{token}",
                "valid_for": f"{hours} hours" if hours != 1 else "an hour",
            },
        )
        try:
            send_mail("Reset your writeup password", body, None, [user.email])
            sent += 1
        except Exception:  # noqa: BLE001 - SMTP trouble is logged, never shown to the requester
            log.exception("password reset e-mail to user %s failed", user.pk)
    return sent


def _user_for_reset(uid: str, token: str):
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, User.DoesNotExist, ValidationError):
        user = None
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        raise InvalidResetLink("This reset link is invalid, used or expired; ask for a new one.")
    return user


def reset_password(request, *, uid: str, token: str, password: str):
    """Set a new password from an e-mailed link and sign in; the link then
    stops working (the token covers the old password hash)."""
    user = _user_for_reset(uid, token)
    _check_password_strength(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user, _sign_in(request, user)


def delete_account(request, *, password: str) -> None:
    """Delete the signed-in account and everything it owns: drafts, published
    pieces (with the votes and flags on them), its own votes and flags."""
    user = request.user
    if not user.check_password(password):
        raise WrongPassword("That is not this account's password; nothing was deleted.")
    with transaction.atomic():
        user.delete()
    logout(request)
