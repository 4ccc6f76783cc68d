"""Finding accounts."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

User = get_user_model()


def user_for_login(login: str) -> AbstractBaseUser | None:
    """The account a sign-in names, by username or (with an @) e-mail,
    either case-insensitively."""
    login = login.strip()
    if "@" in login:
        return User.objects.filter(email__iexact=login).order_by("pk").first()
    return User.objects.filter(username__iexact=login).order_by("pk").first()


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def email_taken(email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def account_summary(user) -> dict:
    """What the account page shows before deletion: what would be lost."""
    documents = user.documents.all()
    return {
        "username": user.get_username(),
        "email": user.email,
        "date_joined": user.date_joined,
        "drafts": documents.count(),
        "published": documents.exclude(visibility="private").count(),
    }
