"""Drop the single-column client_id indexes Django made for three foreign keys (`db_index=False` now).

dbdoctor reported each as redundant: composite indexes of the same table lead with client_id and serve
every lookup it could (recordings_call: rec_call_client_started, _status, _from, _to and the unique
provider id; recordings_recording: rec_rec_client_started and _status; recordings_callstatsbucket: the
unique rec_stats_bucket_client_start), and every insert or update of the calls, the hottest table,
paid for one more index. On PostgreSQL the drops run CONCURRENTLY, so a deployment does not block writes
while they run (hence not atomic); on SQLite they are plain drops. Reversing builds them again the same way.
"""

from django.db import migrations, models

INDEXES = (
    ("recordings_call", "recordings_call_client_id_3cb8564b"),
    ("recordings_recording", "recordings_recording_client_id_b94743c9"),
    ("recordings_callstatsbucket", "recordings_callstatsbucket_client_id_5d8f46dc"),
)


def drop_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for _table, index in INDEXES:
        schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{index}"')


def create_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for table, index in INDEXES:
        schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{index}" ON "{table}" ("client_id")')


def _client(on_delete):
    return models.ForeignKey(db_index=False, on_delete=on_delete, related_name="+", to="accounts.client")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("recordings", "0004_call_number_masked")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="call", name="client", field=_client(models.PROTECT)),
                migrations.AlterField(model_name="recording", name="client", field=_client(models.PROTECT)),
                migrations.AlterField(model_name="callstatsbucket", name="client", field=_client(models.CASCADE)),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        )
    ]
