"""Append-only history, enforced by the database (PostgreSQL and SQLite).

The tables below record what happened (sign-offs, the audit trail, execution
events, plan status changes, emergency overrides, follow-up decisions, earlier
versions of log entries, every saved version of the plan's document texts). A
row trigger refuses every UPDATE and every DELETE on them, whatever issues it:
the ORM (`.update()`, `.delete()`, a cascade) or raw SQL. A correction is a new row.

One exception, by design: a transaction that holds a row in `plans_historypurge`
may DELETE (never UPDATE). Rows there are inserted and removed inside the same
transaction (`history_purge()`), so they are never committed: no other session
ever sees one (PostgreSQL's isolation; SQLite has one writer at a time). Two
callers use it: deleting a whole draft/cancelled plan or template (its record
goes with it; plans that ran can't be deleted), and the test database flush on
SQLite (Django's flush is `DELETE FROM` there; on PostgreSQL it is TRUNCATE,
which row triggers do not see and which needs the table owner's rights).

Why a table and not a session setting: SQLite has no session variables a
trigger can read, and the same rule on both databases is easier to trust.

Triggers are (re)installed after every migrate (post_migrate, idempotent) as
well as by the migration that introduced them: SQLite rebuilds a table for
most ALTERs and drops its triggers with the old table.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection, transaction

APPEND_ONLY_TABLES = (
    "plans_signoff",
    "plans_auditevent",
    "plans_executionevent",
    "plans_planstatuschange",
    "plans_gateoverride",
    "plans_followup",
    "plans_logentryrevision",
    "plans_documentversion",
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION pp_refuse_history_change() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM plans_historypurge) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'append-only history: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
"""


def _pg_statements(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS pp_append_only ON {table}",
        f"CREATE TRIGGER pp_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION pp_refuse_history_change()",
    ]


def _sqlite_statements(table: str) -> list[str]:
    # Table names come from APPEND_ONLY_TABLES above, never from input.
    update = f"pp_append_only_update_{table} BEFORE UPDATE ON {table}"
    delete = f"pp_append_only_delete_{table} BEFORE DELETE ON {table}"
    unless_purge = "WHEN NOT EXISTS (SELECT 1 FROM plans_historypurge)"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {update} "
        f"BEGIN SELECT RAISE(ABORT, 'append-only history: UPDATE on {table} refused'); END",
        f"CREATE TRIGGER IF NOT EXISTS {delete} {unless_purge} "
        f"BEGIN SELECT RAISE(ABORT, 'append-only history: DELETE on {table} refused'); END",
    ]


def install_triggers(schema_connection=None) -> None:
    """Create the append-only triggers (idempotent)."""
    conn = schema_connection or connection
    existing = set(conn.introspection.table_names())
    tables = [t for t in APPEND_ONLY_TABLES if t in existing]
    if "plans_historypurge" not in existing or not tables:
        return
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for table in tables:
                for sql in _pg_statements(table):
                    cursor.execute(sql)
        elif conn.vendor == "sqlite":
            for table in tables:
                for sql in _sqlite_statements(table):
                    cursor.execute(sql)


def remove_triggers(schema_connection=None) -> None:
    conn = schema_connection or connection
    with conn.cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            if conn.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS pp_append_only ON {table}")
            elif conn.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS pp_append_only_update_{table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS pp_append_only_delete_{table}")


@contextmanager
def history_purge():
    """Inside: this transaction may delete append-only rows (see the module's doc)."""
    from plans.models import HistoryPurge

    with transaction.atomic():
        marker = HistoryPurge.objects.create()
        yield
        HistoryPurge.objects.filter(pk=marker.pk).delete()


def _flush_with_purge(original):
    """SQLite's flush deletes row by row: let it through the triggers, and only it."""

    def sql_flush(style, tables, *args, **kwargs):
        statements = original(style, tables, *args, **kwargs)
        if "plans_historypurge" not in tables:
            return statements
        purge_delete = [s for s in statements if '"plans_historypurge"' in s]
        rest = [s for s in statements if '"plans_historypurge"' not in s]
        return ['INSERT INTO "plans_historypurge" ("at") VALUES (CURRENT_TIMESTAMP);', *rest] + (
            purge_delete or ['DELETE FROM "plans_historypurge";']
        )

    return sql_flush


def on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite" and not getattr(connection.ops, "_pp_flush", False):
        connection.ops.sql_flush = _flush_with_purge(connection.ops.sql_flush)
        connection.ops._pp_flush = True


def on_post_migrate(sender, using="default", **kwargs) -> None:
    from django.db import connections

    install_triggers(connections[using])
