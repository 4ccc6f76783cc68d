from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from backend.documents.serializers import StrictText

# Long enough for any passphrase, short enough that hashing it costs nothing unusual.
PASSWORD_MAX_CHARS = 1024


def _password(**kwargs):
    return StrictText(max_length=PASSWORD_MAX_CHARS, trim_whitespace=False, style={"input_type": "password"}, **kwargs)


class SignUpIn(serializers.Serializer):
    username = StrictText(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @ . + - _ only; shown on your public pieces.",
    )
    email = serializers.EmailField(help_text="For password resets; never shown.")
    password = _password()


class SignInIn(serializers.Serializer):
    login = StrictText(max_length=254, help_text="Username or e-mail.")
    password = _password()


class PasswordResetIn(serializers.Serializer):
    email = serializers.EmailField()


class PasswordResetConfirmIn(serializers.Serializer):
    uid = StrictText(max_length=64)
    token = StrictText(max_length=128)
    password = _password(help_text="The new password.")


class DeleteAccountIn(serializers.Serializer):
    password = _password(help_text="The account's password, to confirm.")


class SessionUserOut(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField()


class SessionOut(serializers.Serializer):
    user = SessionUserOut(allow_null=True)
    csrf = serializers.CharField(help_text="Send as X-CSRFToken on every write.")


class SignedInOut(SessionOut):
    moved_drafts = serializers.IntegerField(help_text="Anonymous drafts of this browser now in the account.")


class AccountOut(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField()
    date_joined = serializers.DateTimeField()
    drafts = serializers.IntegerField(help_text="Drafts the account owns (deleted with it).")
    published = serializers.IntegerField(help_text="Of which published.")


class MessageOut(serializers.Serializer):
    message = serializers.CharField()
