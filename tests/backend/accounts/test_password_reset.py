"""Password reset by e-mail: the link arrives, works once, and signs the writer in."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
User = get_user_model()
OLD, NEW = "correct horse battery staple", "a brand new long passphrase"


def ask(client, email):
    return client.post("/api/auth/password-reset/", {"email": email}, format="json")


def confirm(client, uid, token, password=NEW):
    return client.post(
        "/api/auth/password-reset/confirm/", {"uid": uid, "token": token, "password": password}, format="json"
    )


def link_in(message) -> tuple[str, str]:
    match = re.search(r"http://testserver/reset/([\w-]+)/([\w-]+)", message.body)
    assert match, message.body
    return match.group(1), match.group(2)


def test_reset_email_link_sets_a_new_password_once():
    user = User.objects.create_user("ada", "ada@example.com", OLD)
    client = APIClient()
    r = ask(client, "ADA@example.com")
    assert r.status_code == 202 and "e-mail" in r.json()["message"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"] and "Reset" in message.subject
    assert "ada" in message.body and OLD not in message.body
    uid, token = link_in(message)

    r = confirm(client, uid, token)
    assert r.status_code == 200, r.content
    assert r.json()["user"]["username"] == "ada"  # signed in by the reset
    user.refresh_from_db()
    assert user.check_password(NEW) and not user.check_password(OLD)
    # The token covered the old password: the same link cannot be used twice.
    again = confirm(APIClient(), uid, token, password="yet another passphrase 42")
    assert again.status_code == 400 and again.json()["code"] == "invalid_reset_link"
    assert APIClient().post("/api/auth/signin/", {"login": "ada", "password": NEW}, format="json").status_code == 200


def test_unknown_address_gets_the_same_answer_and_no_mail():
    User.objects.create_user("ada", "ada@example.com", OLD)
    known, unknown = ask(APIClient(), "ada@example.com"), ask(APIClient(), "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1


def test_accounts_without_usable_password_or_inactive_get_no_mail():
    User.objects.create_user("ada", "ada@example.com")  # unusable password
    User.objects.create_user("bea", "bea@example.com", OLD, is_active=False)
    ask(APIClient(), "ada@example.com")
    ask(APIClient(), "bea@example.com")
    assert mail.outbox == []


def test_bad_links_and_weak_passwords_are_refused():
    user = User.objects.create_user("ada", "ada@example.com", OLD)
    ask(APIClient(), "ada@example.com")
    uid, token = link_in(mail.outbox[0])
    for bad_uid, bad_token in ((uid, "0-" + token[2:]), ("!!", token), ("MTIzNDU2", token), (uid, "x" * 128)):
        r = confirm(APIClient(), bad_uid, bad_token)
        assert r.status_code == 400 and r.json()["code"] == "invalid_reset_link", (bad_uid, bad_token)
    weak = confirm(APIClient(), uid, token, password="ada")
    assert weak.status_code == 400 and weak.json()["code"] == "weak_password"
    user.refresh_from_db()
    assert user.check_password(OLD)
    # A refused weak password does not use up the link.
    assert confirm(APIClient(), uid, token).status_code == 200


def test_reset_moves_the_browsers_drafts_like_sign_in():
    User.objects.create_user("ada", "ada@example.com", OLD)
    client = APIClient()
    client.post("/api/documents/", {"title": "forgot my password"}, format="json")
    ask(client, "ada@example.com")
    r = confirm(client, *link_in(mail.outbox[0]))
    assert r.json()["moved_drafts"] == 1
    assert [d["title"] for d in client.get("/api/documents/").json()] == ["forgot my password"]


def test_invalid_email_is_a_validation_error():
    r = ask(APIClient(), "not an address")
    assert r.status_code == 400 and r.json()["code"] == "invalid_request" and "email" in r.json()["errors"]
