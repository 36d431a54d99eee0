"""Per-(client, local day, agent) call figures for the dashboard, kept by triggers (PostgreSQL only).

Like migration 0002's buckets: each statement-level trigger on the calls reads the transition tables, turns
the rows into contributions (+1 call, +1 answered, +1 missed… for NEW rows, the negatives for OLD rows),
adds them up per (client, day, agent) and applies the non-zero sums with INSERT … ON CONFLICT DO UPDATE in
key order, so concurrent statements lock rows in the same order. A row whose calls reach zero is deleted,
so the table always equals a GROUP BY of the calls.

The day is the client's local day, so the triggers read the client's time zone, and a change of a client's
time zone rebuilds that client's rows (a row trigger on accounts_client). The call triggers take a SHARE
lock on the clients they touch first: a statement racing a time-zone change waits for it and then writes
with the new zone, instead of adding a day of the old zone after the rebuild.

"Missed" and "answered" are written here once in SQL (recordings.models.CALL_MISSED and CALL_ANSWERED in
Python); tests/test_one_definition_missed.py and test_one_definition_answered.py hold them equal. The
existing calls are added up once at the end.
"""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models

TABLE = "recordings_callagentday"
ANSWERED = "({rows}.status = 'completed' AND {rows}.answered_at IS NOT NULL)"
MISSED_STATUSES = ("no-answer", "busy", "failed", "canceled")
MISSED = "({rows}.direction = 'inbound' AND {rows}.status IN (%s))" % ", ".join(f"'{s}'" for s in MISSED_STATUSES)
FIGURES = {
    "calls": "1",
    "answered": f"{ANSWERED}::int",
    "missed": f"{MISSED}::int",
    "answered_seconds": f"CASE WHEN {ANSWERED} THEN {{rows}}.duration_seconds ELSE 0 END",
    "resolved": "{rows}.is_resolved::int",
    "satisfaction_sum": "coalesce({rows}.customer_satisfaction, 0)",
    "satisfaction_count": "({rows}.customer_satisfaction IS NOT NULL)::int",
}
COLUMNS = list(FIGURES)
KEY = "client_id, day, agent_id"
CONFLICT = "(client_id, day, (COALESCE(agent_id, 0)))"  # the expression index rec_agent_day_unique
LOCAL_DAY = "(({rows}.started_at AT TIME ZONE {zone}))::date"


def contributions(rows: str, sign: str) -> str:
    values = ", ".join(f"{sign}({FIGURES[column].format(rows=rows)})::bigint AS {column}" for column in COLUMNS)
    day = LOCAL_DAY.format(rows=rows, zone="c.timezone")
    return (
        f"SELECT {rows}.client_id, {day} AS day, {rows}.agent_id, {values}"
        f" FROM {rows} JOIN accounts_client c ON c.id = {rows}.client_id"
    )


def apply(sources: list[str]) -> str:
    """The body a call trigger runs: lock the clients, add up the contributions, apply them, drop empty rows."""
    clients = " UNION ".join(f"SELECT client_id FROM {rows}" for rows in sources)
    parts = " UNION ALL ".join(contributions(rows, "-" if rows == "old_rows" else "") for rows in sources)
    sums = ", ".join(f"sum({column})" for column in COLUMNS)
    nonzero = " OR ".join(f"sum({column}) <> 0" for column in COLUMNS)
    updates = ", ".join(f"{column} = d.{column} + excluded.{column}" for column in COLUMNS)
    return (
        f"PERFORM 1 FROM accounts_client WHERE id IN ({clients}) ORDER BY id FOR SHARE;"
        f" WITH upserted AS ("
        f"INSERT INTO {TABLE} AS d ({KEY}, {', '.join(COLUMNS)})"
        f" SELECT {KEY}, {sums} FROM ({parts}) AS delta"
        f" GROUP BY {KEY} HAVING {nonzero} ORDER BY client_id, day, COALESCE(agent_id, 0)"
        f" ON CONFLICT {CONFLICT} DO UPDATE SET {updates} RETURNING d.id, d.calls)"
        f" SELECT array_agg(id) INTO emptied FROM upserted WHERE calls = 0;"
        f" IF emptied IS NOT NULL THEN DELETE FROM {TABLE} WHERE id = ANY(emptied); END IF;"
    )


def call_triggers_sql() -> str:
    statements = []
    for event, sources, referencing in (
        ("INSERT", ["new_rows"], "NEW TABLE AS new_rows"),
        ("UPDATE", ["old_rows", "new_rows"], "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", ["old_rows"], "OLD TABLE AS old_rows"),
    ):
        name = f"recordings_call_agent_days_{event.lower()}"
        statements.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" DECLARE emptied bigint[]; BEGIN {apply(sources)} RETURN NULL; END $$;"
            f" CREATE TRIGGER {name} AFTER {event} ON recordings_call REFERENCING {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}();"
        )
    return "\n".join(statements)


def rebuild_sql(*, where: str, zone: str) -> str:
    """Add up the calls matching `where` per (client, local day in `zone`, agent) into the table."""
    sums = ", ".join(f"sum({FIGURES[column].format(rows='r')})" for column in COLUMNS)
    day = LOCAL_DAY.format(rows="r", zone=zone)
    return (
        f"INSERT INTO {TABLE} ({KEY}, {', '.join(COLUMNS)})"
        f" SELECT r.client_id, {day}, r.agent_id, {sums}"
        f" FROM recordings_call r JOIN accounts_client c ON c.id = r.client_id WHERE {where}"
        f" GROUP BY r.client_id, {day}, r.agent_id;"
    )


def timezone_trigger_sql() -> str:
    name = "recordings_agent_days_timezone"
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" DELETE FROM {TABLE} WHERE client_id = NEW.id;"
        f" {rebuild_sql(where='r.client_id = NEW.id', zone='NEW.timezone')}"
        f" RETURN NULL; END $$;"
        f" CREATE TRIGGER {name} AFTER UPDATE OF timezone ON accounts_client FOR EACH ROW"
        f" WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION {name}();"
    )


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(call_triggers_sql())
    schema_editor.execute(timezone_trigger_sql())
    schema_editor.execute(rebuild_sql(where="true", zone="c.timezone"))


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for event in ("insert", "update", "delete"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS recordings_call_agent_days_{event} ON recordings_call")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS recordings_call_agent_days_{event}()")
    schema_editor.execute("DROP TRIGGER IF EXISTS recordings_agent_days_timezone ON accounts_client")
    schema_editor.execute("DROP FUNCTION IF EXISTS recordings_agent_days_timezone()")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_fk_indexes_state"),
        ("recordings", "0009_call_unattributed_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CallAgentDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(help_text="The client's local day the calls started on.")),
                ("calls", models.IntegerField(default=0)),
                ("answered", models.IntegerField(default=0)),
                ("missed", models.IntegerField(default=0)),
                (
                    "answered_seconds",
                    models.BigIntegerField(default=0, help_text="Duration of the answered calls, summed."),
                ),
                ("resolved", models.IntegerField(default=0)),
                ("satisfaction_sum", models.IntegerField(default=0)),
                ("satisfaction_count", models.IntegerField(default=0)),
                (
                    "agent",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "client",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.client",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        models.F("client"),
                        models.F("day"),
                        django.db.models.functions.comparison.Coalesce(models.F("agent"), models.Value(0)),
                        name="rec_agent_day_unique",
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
