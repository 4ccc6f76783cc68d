"""Two writers who started from the same version: exactly one save wins."""
import threading

import pytest
from django.db import connection

from backend.documents.owners import Owner
from backend.documents import services
from backend.documents.models import Document


@pytest.mark.django_db(transaction=True)
def test_simultaneous_saves_from_one_version_have_one_winner():
    owner = Owner(writer="w")
    doc = services.create_document(owner, body="base")
    barrier = threading.Barrier(4)
    outcomes = []

    def writer(n):
        barrier.wait()
        try:
            saved = services.autosave(owner, doc.id, version=1, body=f"writer {n}")
            outcomes.append(("saved", saved.body))
        except services.VersionConflict as e:
            outcomes.append(("conflict", e.current.body))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [body for kind, body in outcomes if kind == "saved"]
    assert len(outcomes) == 4 and len(winners) == 1
    stored = Document.objects.get(pk=doc.id)
    assert stored.version == 2 and stored.body == winners[0]
    # Every loser was shown the winner's text, so nobody's work is silently gone.
    assert all(body == winners[0] for kind, body in outcomes if kind == "conflict")
