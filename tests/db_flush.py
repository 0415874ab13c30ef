"""A cheaper end for tests that commit (transactional_db, live_server, a real
Celery worker).

Django empties the database after each such test with `flush`: one TRUNCATE of
every table, then the post_migrate signal, which re-creates every content type
and permission the TRUNCATE removed. On PostgreSQL that cost about 4 s a test on
this machine under load (TRUNCATE makes new files for each of about 50 tables
and their indexes; post_migrate runs some 150 queries), for tests that left a
few rows in a handful of tables. Here: one query finds the tables that have
rows, one DELETE each in one transaction (Django's foreign keys on PostgreSQL
are DEFERRABLE INITIALLY DEFERRED, so the order does not matter), and content
types, permissions and the migration history, which post_migrate would only
write back, are kept. Anything else (SQLite, available_apps, serialized
rollback) goes to Django's flush."""

from __future__ import annotations

from django.db import connections, transaction
from django.test import TransactionTestCase

from plans.history_guard import APPEND_ONLY_TABLES

KEPT = frozenset({"django_migrations", "django_content_type", "auth_permission"})
PURGE_TABLE = "plans_historypurge"

_django_fixture_teardown = TransactionTestCase._fixture_teardown


def empty_tables(alias: str) -> list[str]:
    """Delete every row the test left; returns the tables that had some."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    tables = sorted(
        set(connection.introspection.django_table_names(only_existing=True, include_views=False))
        - KEPT
    )
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(
            " UNION ALL ".join(
                f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(t)})"  # noqa: S608
                for t in tables
            ),
            tables,
        )
        dirty = [row[0] for row in cursor.fetchall()]
        # The append-only history tables let a DELETE through only while this
        # transaction holds a purge marker (plans/history_guard.py): the same
        # door Django's flush goes through, closed again before the commit.
        purge = PURGE_TABLE in tables and any(t in APPEND_ONLY_TABLES for t in dirty)
        if purge:
            cursor.execute(f"INSERT INTO {quote(PURGE_TABLE)} (at) VALUES (CURRENT_TIMESTAMP)")  # noqa: S608
        for table in dirty:
            cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 - names from introspection
        if purge:
            cursor.execute(f"DELETE FROM {quote(PURGE_TABLE)}")  # noqa: S608
    return dirty


def _fixture_teardown(self: TransactionTestCase) -> None:
    aliases = self._databases_names(include_mirrors=False)
    if (
        self.available_apps is not None
        or self.serialized_rollback
        or any(connections[a].vendor != "postgresql" for a in aliases)
    ):
        return _django_fixture_teardown(self)
    for alias in aliases:
        empty_tables(alias)


def install() -> None:
    TransactionTestCase._fixture_teardown = _fixture_teardown
