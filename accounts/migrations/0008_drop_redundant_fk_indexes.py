"""Drop four single-column foreign-key indexes that composite indexes of the same tables make redundant.

dbdoctor reported each: accounts_auditevent.client_id (led by accounts_audit_client_action and
_client_latest), accounts_invitation.client_id (accounts_inv_client_created), accounts_user.client_id
(accounts_user_client_role) and accounts_refreshfamily.user_id (accounts_family_user_revoked). Every
write to those tables, the audit log above all, paid for one more index. On PostgreSQL the drops run
CONCURRENTLY (hence not atomic); on SQLite they are plain drops. Reversing builds them again.

Only the database changes here: the fields' `db_index=False` belongs in accounts/models.py, and once it
is there makemigrations writes an AlterField whose index drop finds nothing left to drop.
"""

from django.db import migrations

INDEXES = (
    ("accounts_auditevent", "client_id", "accounts_auditevent_client_id_60c3b5d7"),
    ("accounts_invitation", "client_id", "accounts_invitation_client_id_933a7128"),
    ("accounts_user", "client_id", "accounts_user_client_id_ad586a06"),
    ("accounts_refreshfamily", "user_id", "accounts_refreshfamily_user_id_b764599d"),
)


def drop_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for _table, _column, index in INDEXES:
        schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{index}"')


def create_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for table, column, index in INDEXES:
        schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{index}" ON "{table}" ("{column}")')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0007_audit_shopify_privacy")]

    operations = [migrations.RunPython(drop_indexes, create_indexes)]
