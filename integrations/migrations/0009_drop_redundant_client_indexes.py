"""Drop three single-column client_id indexes that composite indexes of the same tables make redundant.

dbdoctor reported each: integrations_webhookevent.client_id (led by integ_webhook_client_recv; every
webhook delivery is an insert), integrations_product.client_id (integ_product_client_status, _title and
the unique Shopify id) and integrations_productvariant.client_id (integ_variant_client_sku and the
unique Shopify id). On PostgreSQL the drops run CONCURRENTLY (hence not atomic); on SQLite they are
plain drops. Reversing builds them again.

Only the database changes here: the fields' `db_index=False` belongs in integrations/models.py, and once
it is there makemigrations writes an AlterField whose index drop finds nothing left to drop.
"""

from django.db import migrations

INDEXES = (
    ("integrations_webhookevent", "integrations_webhookevent_client_id_c3b532c4"),
    ("integrations_product", "integrations_product_client_id_79f840b1"),
    ("integrations_productvariant", "integrations_productvariant_client_id_ae58cdc4"),
)


def drop_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for _table, index in INDEXES:
        schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{index}"')


def create_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for table, index in INDEXES:
        schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{index}" ON "{table}" ("client_id")')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("integrations", "0008_shopify_customers_sync_started")]

    operations = [migrations.RunPython(drop_indexes, create_indexes)]
