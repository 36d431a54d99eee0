"""An index for sorting the calls list by duration: (client, duration_seconds, id), read forwards for
shortest first and backwards for longest first, so a deep page seeks instead of sorting the client's calls.

Built CONCURRENTLY on PostgreSQL, so a deployment does not block writes to the calls while it builds
(hence not atomic); on SQLite it is a plain CREATE INDEX.
"""

from django.db import migrations, models

INDEX = "rec_call_client_duration"
COLUMNS = '"client_id", "duration_seconds", "id"'


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{INDEX}" ON "recordings_call" ({COLUMNS})')


def drop_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("recordings", "0010_call_agent_days")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="call",
                    index=models.Index(fields=["client", "duration_seconds", "id"], name=INDEX),
                )
            ],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        ),
    ]
