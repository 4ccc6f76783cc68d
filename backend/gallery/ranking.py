"""The gallery's "top" order: votes with a time decay, computed in SQL.

    score = (up votes - down votes) / (hours since listed + 2) ** GRAVITY

(Hacker News' formula.) A piece needs ever more votes to stay near the top
as it ages, and a fresh piece with a few votes can pass an old one with many.
The vote sum comes straight from the votes table in the same query, so the
ranking can never drift from the votes cast.
"""
from __future__ import annotations

from datetime import datetime

from django.db import NotSupportedError
from django.db.models import DateTimeField, FloatField, Func, Value
from django.db.models.functions import Cast, Greatest, Power

GRAVITY = 1.8
# Hours added to every age, so a brand new piece's score is finite and a
# first vote does not outweigh everything else.
AGE_OFFSET_HOURS = 2.0


class HoursBetween(Func):
    """Hours from `then` to `now` as a float; SQL has no portable way to say it."""

    output_field = FloatField()

    def __init__(self, then, now: datetime):
        super().__init__(then, Value(now, output_field=DateTimeField()))

    def _compiled(self, compiler, connection):
        then_sql, then_params = compiler.compile(self.source_expressions[0])
        now_sql, now_params = compiler.compile(self.source_expressions[1])
        return then_sql, tuple(then_params), now_sql, tuple(now_params)

    def as_sqlite(self, compiler, connection, **extra):
        then_sql, then_params, now_sql, now_params = self._compiled(compiler, connection)
        return f"((julianday({now_sql}) - julianday({then_sql})) * 24.0)", (*now_params, *then_params)

    def as_postgresql(self, compiler, connection, **extra):
        then_sql, then_params, now_sql, now_params = self._compiled(compiler, connection)
        return f"(EXTRACT(EPOCH FROM ({now_sql} - {then_sql})) / 3600.0)", (*now_params, *then_params)

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError(f"gallery ranking supports SQLite and PostgreSQL, not {connection.vendor}")


def decayed_score(vote_total, listed_at, now: datetime):
    """The expression to order by; `vote_total` is an annotation of the vote sum."""
    # Clock skew between app servers must not make a piece younger than new.
    age = Greatest(HoursBetween(listed_at, now), Value(0.0))
    return Cast(vote_total, FloatField()) / Power(age + Value(AGE_OFFSET_HOURS), Value(GRAVITY))


def decayed_score_of(vote_total: int, hours: float) -> float:
    """The same formula in Python, for tests and explanations."""
    return vote_total / (max(hours, 0.0) + AGE_OFFSET_HOURS) ** GRAVITY

