"""A partial index of the calls no member is attributed to, by the number that took them: registering a
number links its earlier calls through it without reading the client's other calls. Built CONCURRENTLY on
PostgreSQL, so a deployment does not block writes to the calls while it builds (hence not atomic)."""

from django.db import migrations, models
from django.db.models import Q

INDEX = "rec_call_unattributed"


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f'CREATE INDEX {concurrently}IF NOT EXISTS "{INDEX}" ON "recordings_call" ("client_id", "agent_number") '
        """WHERE ("agent_id" IS NULL AND NOT ("agent_number" = ''))"""
    )


def drop_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("recordings", "0008_missed_calls")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="call",
                    index=models.Index(
                        fields=["client", "agent_number"],
                        condition=Q(agent__isnull=True) & ~Q(agent_number=""),
                        name=INDEX,
                    ),
                )
            ],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        ),
    ]
