"""`manage.py dbdoctor`: the report on PostgreSQL, its exit status as a check, and SQLite's short answer.

One client holds 5,000 calls and a bigger one 20,000, built once for the module and ANALYZEd; the
report runs for the smaller client, so a key query reading the calls table whole is a planner's
choice forced by a missing index, never one it makes because the client owns the whole table. Each
test changes the schema inside its own transaction (rolled back after it), which is also how the
report's read-only transaction is shown to leave the caller's transaction writable.
"""

import json
import subprocess
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from recordings import demo
from tests.factories import ClientFactory
from tests.serving import PYTHON, ROOT, clean_env

SMALL, BIG = 5_000, 20_000


@pytest.fixture(scope="module")
def dataset(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        client = ClientFactory(slug="doctor-small")
        demo.calls_seed(client=client, count=SMALL)
        demo.calls_seed(client=ClientFactory(slug="doctor-big"), count=BIG)
        with connection.cursor() as cursor:
            # Run the inserts' deferred foreign key checks now: tests ALTER the table, which waits for none.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ANALYZE recordings_call")
        yield client
        transaction.set_rollback(True)


def _doctor(*args: str) -> tuple[int, str]:
    """Run the command; its exit status (CommandError's returncode) and what it printed."""
    out = StringIO()
    try:
        call_command("dbdoctor", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def _sql(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _drop_client_indexes_of_calls() -> None:
    """Every index of recordings_call that could find a client's calls goes (only the id ones stay)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, k.conname FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid
            WHERE x.indrelid = 'recordings_call'::regclass AND NOT x.indisprimary
              AND i.relname <> 'recordings_call_public_id_key'
            """
        )
        for index, constraint in cursor.fetchall():
            if constraint:
                cursor.execute(f'ALTER TABLE recordings_call DROP CONSTRAINT "{constraint}"')
            else:
                cursor.execute(f'DROP INDEX "{index}"')
        cursor.execute("ANALYZE recordings_call")


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_exits_0_when_every_key_query_uses_an_index(dataset):
    status, out = _doctor("--client", "doctor-small", "--json")

    report = json.loads(out)
    assert status == 0 and report["exit_status"] == 0
    assert report["client"] == {"slug": "doctor-small", "calls": SMALL}
    names = [query["name"] for query in report["key_queries"]]
    assert names[:4] == [
        "calls list, first page",
        "calls list, page near the end",
        "recordings list, first page",
        "audit log, first page",
    ]
    assert any(name.startswith("stats summary, last 7 days") for name in names)
    assert all(query["ok"] for query in report["key_queries"]), report["key_queries"]
    calls_pages = report["key_queries"][:2]
    assert all("rec_call_client_started" in query["indexes"] for query in calls_pages)
    # the deep page really seeks: its SQL carries the row-value comparison of the keyset paginator
    assert '("recordings_call"."started_at", "recordings_call"."id") <' in calls_pages[1]["sql"]
    assert not [f for f in report["findings"] if f["severity"] == "error"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_missing_index_is_reported_with_exit_status_2(dataset):
    _drop_client_indexes_of_calls()

    status, out = _doctor("--client", "doctor-small")

    assert status == 2
    assert "SEQ SCAN on a large table" in out
    assert "ERROR   calls list, first page: sequential scan on recordings_call" in out
    assert "Give recordings_call an index that starts with the filtered columns" in out
    assert "Exit status 2" in out


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_threshold_decides_what_a_large_table_is(dataset):
    _drop_client_indexes_of_calls()

    status, out = _doctor("--client", "doctor-small", "--seq-scan-rows", str(10 * (SMALL + BIG)), "--json")

    report = json.loads(out)
    assert status == 0
    scans = [scan for query in report["key_queries"] for scan in query["seq_scans"]]
    assert {"recordings_call"} <= {scan["table"] for scan in scans}, "the scans are still listed"


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_reports_duplicate_indexes_and_unindexed_foreign_keys(dataset):
    _sql(
        "CREATE TABLE doctor_probe (id bigserial PRIMARY KEY, client_id bigint REFERENCES accounts_client (id), "
        "label text, kind text)",
        "CREATE INDEX doctor_probe_label ON doctor_probe (label)",
        "CREATE INDEX doctor_probe_label_again ON doctor_probe (label)",
        "CREATE INDEX doctor_probe_label_kind ON doctor_probe (label, kind)",
        "CREATE INDEX doctor_probe_kind_partial ON doctor_probe (kind) WHERE kind IS NOT NULL",
        "CREATE INDEX doctor_probe_kind ON doctor_probe (kind)",
        "CREATE INDEX doctor_calls_client ON recordings_call (client_id, status)",
        "ALTER TABLE doctor_probe SET (autovacuum_enabled = false)",
    )

    status, out = _doctor("--client", "doctor-small", "--json")

    report = json.loads(out)
    assert status == 0
    redundant = {entry["index"]: entry for entry in report["duplicate_indexes"] if "doctor" in entry["table"]}
    assert set(redundant) == {"doctor_probe_label", "doctor_probe_label_again"}
    assert redundant["doctor_probe_label"]["kind"] == "overlapping"
    assert redundant["doctor_probe_label_again"]["kind"] == "duplicate"
    assert redundant["doctor_probe_label_again"]["covered_by"] == ["doctor_probe_label", "doctor_probe_label_kind"]
    # a partial index never stands in for a full one; a composite index led by another one's columns does
    calls_index = next(e for e in report["duplicate_indexes"] if e["index"] == "doctor_calls_client")
    assert "rec_call_client_status" in calls_index["covered_by"]
    finding = next(
        f for f in report["findings"] if f["check"] == "duplicate-index" and "doctor_calls_client" in f["subject"]
    )
    assert finding["severity"] == "warning" and "Drop doctor_calls_client" in finding["recommendation"]

    [key] = [key for key in report["unindexed_foreign_keys"] if key["table"] == "doctor_probe"]
    assert key["column_names"] == ["client_id"] and key["referenced_table"] == "accounts_client"
    finding = next(f for f in report["findings"] if f["check"] == "unindexed-foreign-key")
    assert "CREATE INDEX CONCURRENTLY ON doctor_probe (client_id)" in finding["recommendation"]

    vacuum = {f["subject"] for f in report["findings"] if f["check"] == "vacuum"}
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        server_wide = cursor.fetchone()[0] == "off"
    if server_wide:
        assert "autovacuum is off for the whole server" in vacuum
    else:
        assert "doctor_probe: autovacuum is off for this table" in vacuum


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_changes_nothing_and_leaves_the_callers_transaction_writable(dataset):
    def schema():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), sum(reltuples) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema()"
            )
            return cursor.fetchone()

    before = schema()
    _doctor("--client", "doctor-small")
    assert schema() == before
    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_read_only")
        assert cursor.fetchone()[0] == "off"
    ClientFactory(slug="written-after-the-report")


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_explains_how_to_enable_pg_stat_statements(dataset):
    _, out = _doctor("--client", "doctor-small", "--json")
    statements = json.loads(out)["statements"]
    installed = statements["available"]
    if not installed:
        assert "CREATE EXTENSION pg_stat_statements" in statements["how_to_enable"]

    # Installed but not preloaded (this server's case unless it preloads it): the report says so.
    _sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    _, out = _doctor("--client", "doctor-small", "--json")
    statements = json.loads(out)["statements"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_preload_libraries")
        preloaded = "pg_stat_statements" in cursor.fetchone()[0]
    assert statements["available"] is preloaded
    if not preloaded:
        assert "shared_preload_libraries" in statements["how_to_enable"]
        finding = next(f for f in json.loads(out)["findings"] if f["check"] == "statements")
        assert finding["subject"] == "pg_stat_statements is not loaded"


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_connection_budget_follows_the_process_settings(dataset, settings):
    settings.ENV = {**settings.ENV, "WEB_CONCURRENCY": 8, "GUNICORN_THREADS": 8, "DATABASE_POOL_MAX_SIZE": 0}

    _, out = _doctor("--client", "doctor-small", "--json", "--web-instances", "2", "--task-workers", "3")

    connections = json.loads(out)["connections"]
    assert connections["budget"] == 2 * (8 * 8 + 3 + 1)
    budget_finding = [f for f in json.loads(out)["findings"] if f["subject"].startswith("connection budget")]
    assert bool(budget_finding) == (connections["budget"] > 0.8 * connections["usable"])

    settings.ENV = {**settings.ENV, "DATABASE_POOL_MAX_SIZE": 2}
    _, out = _doctor("--client", "doctor-small", "--json")
    report = json.loads(out)
    assert report["connections"]["budget"] == 8 * 2 + 1 + 1
    assert any("DATABASE_POOL_MAX_SIZE 2 is below GUNICORN_THREADS 8" in f["subject"] for f in report["findings"])


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_unknown_client_is_a_clear_error(dataset):
    with pytest.raises(CommandError, match="No client has the slug 'nobody'"):
        call_command("dbdoctor", "--client", "nobody")


@pytest.mark.slow
def test_on_sqlite_it_says_what_does_not_apply(tmp_path):
    env = clean_env(
        tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", DJANGO_SETTINGS_MODULE="caly.settings.test"
    )
    text = subprocess.run(
        [PYTHON, "manage.py", "dbdoctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    as_json = subprocess.run(
        [PYTHON, "manage.py", "dbdoctor", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert text.returncode == 0, text.stderr
    assert "the checks are PostgreSQL's" in text.stdout
    assert "pg_stat_statements" in text.stdout and "max_connections" in text.stdout
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["vendor"] == "sqlite" and report["exit_status"] == 0 and len(report["not_applicable"]) == 6


# The apps whose models Caly declares. Django's own tables (auth_*) and the many-to-many tables Django
# creates for User's groups and permissions keep the indexes Django gives them.
CALY_APPS = {"caly", "accounts", "recordings", "integrations", "composition"}


def _calys_tables() -> set[str]:
    return {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in CALY_APPS and not model._meta.auto_created
    }


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_migrated_schema_has_no_redundant_index_on_calys_tables():
    """What `migrate` builds (the test database) holds no index dbdoctor calls redundant on Caly's tables."""
    _status, out = _doctor("--json")
    report = json.loads(out)
    tables = _calys_tables()
    assert {"recordings_call", "accounts_auditevent", "integrations_webhookevent"} <= tables
    redundant = [(entry["table"], entry["index"]) for entry in report["duplicate_indexes"] if entry["table"] in tables]
    assert redundant == []
    unindexed = [entry for entry in report["unindexed_foreign_keys"] if entry["table"] in tables]
    assert unindexed == []  # every foreign key whose own index went is still led by a composite one
