"""The backend suites run on the database server WRITEUP_TEST_DATABASE names:
SQLite by default, a real PostgreSQL in scripts/test's second pass."""
import pytest
from django.db import connection

from tests.support.services import database_under_test

pytestmark = pytest.mark.django_db


def test_the_suite_runs_on_the_database_it_names():
    assert connection.vendor == {"sqlite": "sqlite", "postgres": "postgresql"}[database_under_test()]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
