"""A trigram index for the calls list's `q` search in notes (PostgreSQL only).

`?q=` matches the start of either number (served by rec_call_client_from / rec_call_client_to) or words
anywhere in the notes, which Django's `icontains` writes as `UPPER(notes) LIKE UPPER('%…%')`. Without an
index for that arm PostgreSQL walks the client's calls newest first until it has a page: at 1,000,000
calls an order number in one note took 0.5 s and a word in none 1.8 s. pg_trgm's GIN index on the same
expression lets the three arms combine in one bitmap. pg_trgm is a trusted extension (PostgreSQL 13+),
so the database owner may create it; SQLite keeps the scan.

The index is built CONCURRENTLY, so a deployment does not block writes to the calls while it builds
(7 s for 1.3 million calls here, with the ANALYZE after it); hence the migration is not atomic.
"""

from django.db import migrations

INDEX = "rec_call_notes_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON recordings_call USING gin (UPPER(notes) gin_trgm_ops)"
    )
    # Statistics of the indexed expression: until they exist the planner guesses its selectivity and keeps
    # walking the calls newest first for a word no note contains.
    schema_editor.execute("ANALYZE recordings_call")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("recordings", "0002_call_stats_buckets")]

    operations = [migrations.RunPython(create_index, drop_index)]
