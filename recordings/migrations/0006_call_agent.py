"""Who took or placed a call: `agent` (a member of the client's team, or none) and `agent_number`.

Both columns are nullable or empty by default, so adding them rewrites no row. The index for `agent=` leads
with the agent, not the client: a member belongs to one client, so it serves the filter within a client and
the foreign key too (deleting a user sets its calls' agent to NULL without scanning the calls). It is
built CONCURRENTLY on PostgreSQL, so a deployment does not block writes to the calls while it builds
(hence not atomic); on SQLite it is a plain CREATE INDEX.
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEX = "rec_call_agent_started"
COLUMNS = '"agent_id", "started_at" DESC, "id" DESC'


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{INDEX}" ON "recordings_call" ({COLUMNS})')


def drop_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0009_fk_indexes_state"),
        ("recordings", "0005_drop_redundant_client_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="agent",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="call",
            name="agent_number",
            field=models.CharField(
                blank=True,
                max_length=16,
                validators=[
                    django.core.validators.RegexValidator(
                        "^(\\+[1-9][0-9]{6,14}|\\+X{3,11}[0-9]{4})$",
                        "Enter a phone number in E.164 form, such as +919876543210.",
                    )
                ],
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="call",
                    index=models.Index(fields=["agent", "-started_at", "-id"], name=INDEX),
                )
            ],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        ),
    ]
