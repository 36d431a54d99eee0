"""`manage.py dbdoctor`: a read-only health report of the PostgreSQL database, with a recommendation per finding.

Everything runs in one READ ONLY transaction with a statement timeout, rolled back at the end, so it
is safe to point at production. The key queries are not copies: the app's own selectors and keyset
paginator run for a real client while every SELECT they send is captured with its parameters, then
EXPLAIN (ANALYZE, BUFFERS)ed. The rest reads PostgreSQL's statistics views and catalogs. Nothing here
creates, drops, vacuums or analyzes anything; the findings say what an operator should do.

Only one kind of finding is an error: a key query reading a large table sequentially. The command
exits non-zero on it, so CI and operators can use the report as a check.
"""

from __future__ import annotations

import json
import multiprocessing
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.api.views import AuditEventListView
from accounts.models import Client
from caly.foundation.api.pagination import KeysetPagination
from recordings import selectors as recording_selectors
from recordings.api.views import CallListView, RecordingListView
from recordings.models import Call

ERROR, WARNING, NOTE = "error", "warning", "note"
EXIT_SEQ_SCAN = 2
DEAD_TUPLE_RATIO = 0.2
DEAD_TUPLE_MIN = 1000
SLOW_STATEMENT_MS = 100
CONNECTION_SHARE = 0.8

SQLITE_NOT_APPLICABLE = (
    "key query plans: EXPLAIN (ANALYZE, BUFFERS) is PostgreSQL's",
    "indexes never used, duplicate or overlapping indexes: pg_stat_user_indexes and pg_index",
    "foreign keys without a supporting index: pg_constraint",
    "sequential scans, table and index sizes, dead tuples and (auto)vacuum/analyze: pg_stat_user_tables",
    "slowest statements: pg_stat_statements",
    "connection budget: SQLite has no server and no max_connections",
)


@dataclass
class Finding:
    severity: str
    check: str
    subject: str
    detail: str
    recommendation: str


@dataclass
class Report:
    vendor: str
    database: str
    generated_at: str
    large_table_rows: int
    server_version: str = ""
    client: dict | None = None
    key_queries: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)
    unused_indexes: dict = field(default_factory=dict)
    duplicate_indexes: list[dict] = field(default_factory=list)
    unindexed_foreign_keys: list[dict] = field(default_factory=list)
    statements: dict = field(default_factory=dict)
    connections: dict = field(default_factory=dict)
    not_applicable: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return EXIT_SEQ_SCAN if any(finding.severity == ERROR for finding in self.findings) else 0

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "exit_status": self.exit_status}, indent=2, default=str)


class ClientNotFound(Exception):
    pass


def diagnose(
    *,
    client_slug: str | None = None,
    large_table_rows: int | None = None,
    web_instances: int = 1,
    task_workers: int = 1,
    statement_timeout_seconds: int = 60,
) -> Report:
    """The whole report. Raises ClientNotFound for an unknown --client slug."""
    large = large_table_rows if large_table_rows is not None else settings.DBDOCTOR_LARGE_TABLE_ROWS
    report = Report(
        vendor=connection.vendor,
        database=str(connection.settings_dict["NAME"]),
        generated_at=timezone.now().isoformat(timespec="seconds"),
        large_table_rows=large,
    )
    if connection.vendor != "postgresql":
        report.not_applicable = list(SQLITE_NOT_APPLICABLE)
        return report

    with transaction.atomic():
        with connection.cursor() as cursor:
            # Read only, even where this runs inside someone else's transaction (a savepoint):
            # PostgreSQL always allows switching *to* read-only. The rollback below undoes it.
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{statement_timeout_seconds}s"])
            cursor.execute("SELECT current_setting('server_version')")
            report.server_version = cursor.fetchone()[0]
        rows = _table_rows()
        client = _client(client_slug)
        if client is None:
            report.findings.append(
                Finding(NOTE, "key-query", "no calls", "No client has calls yet.", "Run dbdoctor again with real data.")
            )
        else:
            report.client = {"slug": client.slug, "calls": Call.objects.for_client(client).count()}
            report.key_queries = _key_queries(client, rows, large, report.findings)
        report.tables = _tables(large, report.findings)
        in_key_plans = {name for query in report.key_queries for name in query["indexes"]}
        report.unused_indexes = _unused_indexes(rows, large, in_key_plans, report.findings)
        report.duplicate_indexes = _duplicate_indexes(rows, large, report.findings)
        report.unindexed_foreign_keys = _unindexed_foreign_keys(rows, large, report.findings)
        report.statements = _statements(report.findings)
        report.connections = _connections(web_instances, task_workers, report.findings)
        transaction.set_rollback(True)
    return report


def _fetch(sql: str, params: list | None = None) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _table_rows() -> dict[str, int]:
    """Estimated rows per table: the planner's reltuples, or the live count where it never analyzed."""
    found = _fetch(
        """
        SELECT c.relname AS name, greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0)) AS rows
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
        """
    )
    return {row["name"]: row["rows"] for row in found}


def _client(slug: str | None) -> Client | None:
    if slug:
        client = Client.objects.filter(slug=slug).first()
        if client is None:
            raise ClientNotFound(f"No client has the slug {slug!r}.")
        return client
    biggest = Call.objects.values("client_id").annotate(calls=Count("id")).order_by("-calls").first()
    return Client.objects.get(pk=biggest["client_id"]) if biggest else None


# --- key queries ------------------------------------------------------------------------------


@contextmanager
def _captured_selects() -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT sent while the block runs, exactly as sent (SQL and parameters)."""
    captured: list[tuple[str, Any]] = []

    def capture(execute, sql, params, many, context):
        if not many and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        yield captured


def _paginate(queryset, ordering: tuple[str, ...], cursor: str | None = None) -> None:
    """One API page through the real keyset paginator (what CallListView and friends run)."""
    params = {"limit": str(settings.API_PAGE_SIZE)}
    if cursor:
        params["cursor"] = cursor
    KeysetPagination().paginate_queryset(
        queryset, SimpleNamespace(query_params=params), SimpleNamespace(keyset_ordering=ordering)
    )


def _deep_cursor(queryset, ordering: tuple[str, ...]) -> str | None:
    """A next-page cursor two pages before the end of the list (the oldest rows), as the API writes it."""
    fields = [name.lstrip("-") for name in ordering]
    total = queryset.count()
    depth = total - 2 * settings.API_PAGE_SIZE
    if depth <= 0:
        return None
    paginator = KeysetPagination()
    paginator.fields = fields
    return paginator.encode_cursor(queryset.order_by(*ordering).values(*fields)[depth], backwards=False)


def _calls(client: Client):
    # The tenant base view adds for_client() on top of the selector; so does this.
    queryset = recording_selectors.call_list(client=client).for_client(client)
    return queryset.values(*recording_selectors.CALL_LIST_FIELDS)


def _recordings(client: Client):
    return recording_selectors.recording_list(client=client).for_client(client)


def _audit_events(client: Client):
    return account_selectors.audit_event_list(client=client).for_client(client)


def _stats(days: int) -> Callable[[Client, Any], None]:
    def run(client: Client, prepared: Any) -> None:
        today = timezone.localtime(timezone=zoneinfo.ZoneInfo(client.timezone)).date()
        recording_selectors.stats_summary(client=client, first=today - timedelta(days=days - 1), last=today)

    return run


def _dashboard(range_name: str) -> Callable[[Client, Any], None]:
    def run(client: Client, prepared: Any) -> None:
        first, last = recording_selectors.stats_range(client=client, name=range_name)
        recording_selectors.dashboard_summary(client=client, first=first, last=last)

    return run


@dataclass(frozen=True)
class KeyQuery:
    """What the app runs for one page or figure: `prepare` (not explained) feeds `run` (every SELECT explained)."""

    name: str
    run: Callable[[Client, Any], None]
    prepare: Callable[[Client], Any] = lambda client: None


KEY_QUERIES: tuple[KeyQuery, ...] = (
    KeyQuery("calls list, first page", lambda client, _: _paginate(_calls(client), CallListView.keyset_ordering)),
    KeyQuery(
        "calls list, page near the end",
        lambda client, cursor: _paginate(_calls(client), CallListView.keyset_ordering, cursor),
        prepare=lambda client: _deep_cursor(_calls(client), CallListView.keyset_ordering),
    ),
    KeyQuery(
        "recordings list, first page",
        lambda client, _: _paginate(_recordings(client), RecordingListView.keyset_ordering),
    ),
    KeyQuery(
        "audit log, first page", lambda client, _: _paginate(_audit_events(client), AuditEventListView.keyset_ordering)
    ),
    KeyQuery("stats summary, last 7 days (the API default)", _stats(7)),
    KeyQuery("stats summary, last 30 days", _stats(30)),
    KeyQuery("dashboard, last 90 days (per day and per agent)", _dashboard("90d")),
)


def _key_queries(client: Client, rows: dict[str, int], large: int, findings: list[Finding]) -> list[dict]:
    results = []
    for query in KEY_QUERIES:
        prepared = query.prepare(client)
        with _captured_selects() as statements:
            query.run(client, prepared)
        for number, (sql, params) in enumerate(statements, start=1):
            label = query.name if len(statements) == 1 else f"{query.name}, query {number} of {len(statements)}"
            results.append(_explained(label, sql, params, rows, large, findings))
    return results


def _plan_nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _rows_read(nodes: list[dict]) -> int:
    """Rows the scans of a plan produced (all loops), a rough measure of the work."""
    return sum(
        int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1))
        for node in nodes
        if node["Node Type"].endswith("Scan")
    )


def _node_label(node: dict) -> str:
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    if "Relation Name" in node:
        label += f" on {node['Relation Name']}"
    return label


def _explained(name: str, sql: str, params, rows: dict[str, int], large: int, findings: list[Finding]) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        (raw,) = cursor.fetchone()
    explained = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    top = explained["Plan"]
    nodes = list(_plan_nodes(top))
    seq_scans = [
        {"table": node["Relation Name"], "table_rows": rows.get(node["Relation Name"], 0), "filter": node.get("Filter")}
        for node in nodes
        if node["Node Type"] == "Seq Scan"
    ]
    large_scans = [scan for scan in seq_scans if scan["table_rows"] >= large]
    sort_keys = [key for node in nodes for key in node.get("Sort Key", [])]
    for scan in large_scans:
        findings.append(
            Finding(
                ERROR,
                "key-query",
                f"{name}: sequential scan on {scan['table']}",
                f"The plan reads all of {scan['table']} (about {scan['table_rows']:,} rows)"
                + (f" to keep rows matching {scan['filter']}" if scan["filter"] else "")
                + (f", then sorts by {', '.join(sort_keys)}" if sort_keys else "")
                + f"; it took {explained['Execution Time']:.1f} ms.",
                f"Give {scan['table']} an index that starts with the filtered columns and continues with the "
                "sort order (declare it in the model's Meta.indexes and migrate; on a live database build it "
                f"with CREATE INDEX CONCURRENTLY). If such an index exists, run ANALYZE {scan['table']} and "
                "check the plan again: stale statistics make the planner misjudge.",
            )
        )
    if not large_scans and explained["Execution Time"] >= SLOW_STATEMENT_MS:
        findings.append(
            Finding(
                WARNING,
                "key-query",
                f"{name}: {explained['Execution Time']:.0f} ms",
                f"It uses indexes but handles {_rows_read(nodes):,} rows for one answer.",
                "Fine for an occasional page; if it is shown often, keep the figure precomputed (a per-day summary "
                "table kept up to date as calls arrive, or a cache with a short lifetime).",
            )
        )
    return {
        "name": name,
        "execution_ms": round(explained["Execution Time"], 3),
        "planning_ms": round(explained["Planning Time"], 3),
        "rows": top.get("Actual Rows"),
        "shared_hit_blocks": top.get("Shared Hit Blocks", 0),
        "shared_read_blocks": top.get("Shared Read Blocks", 0),
        "plan": " → ".join(_node_label(node) for node in nodes),
        "indexes": sorted({node["Index Name"] for node in nodes if "Index Name" in node}),
        "seq_scans": seq_scans,
        "ok": not large_scans,
        "sql": sql,
    }


# --- tables, indexes, foreign keys -------------------------------------------------------------------


def _tables(large: int, findings: list[Finding]) -> list[dict]:
    tables = _fetch(
        """
        SELECT s.relname AS name, greatest(c.reltuples::bigint, s.n_live_tup) AS rows,
               s.n_live_tup AS live_rows, s.n_dead_tup AS dead_rows, s.n_mod_since_analyze AS changed_since_analyze,
               s.seq_scan, s.seq_tup_read AS seq_rows_read, coalesce(s.idx_scan, 0) AS idx_scan,
               pg_total_relation_size(s.relid) AS total_bytes, pg_relation_size(s.relid) AS table_bytes,
               pg_indexes_size(s.relid) AS index_bytes,
               greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
               greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze,
               coalesce('autovacuum_enabled=false' = ANY (c.reloptions), false) AS autovacuum_off
        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname = current_schema()
        ORDER BY pg_total_relation_size(s.relid) DESC, s.relname
        """
    )
    [server] = _fetch(
        "SELECT current_setting('autovacuum') = 'on' AS autovacuum, current_setting('track_counts') = 'on' AS counts"
    )
    if not server["counts"]:
        findings.append(
            Finding(
                WARNING,
                "vacuum",
                "track_counts is off",
                "PostgreSQL keeps no scan or row counts: autovacuum cannot tell what needs work, and the unused "
                "index and sequential scan figures of this report are empty.",
                "Set track_counts = on (the default) and reload.",
            )
        )
    if not server["autovacuum"]:
        findings.append(
            Finding(
                WARNING,
                "vacuum",
                "autovacuum is off for the whole server",
                "No table is vacuumed or analyzed unless someone does it by hand: dead rows pile up, the "
                "planner works from missing or stale statistics, and transaction ids move towards wraparound.",
                "Set autovacuum = on in postgresql.conf (or the managed service's parameters) and reload.",
            )
        )
    for table in tables:
        name, rows = table["name"], table["rows"]
        if table["autovacuum_off"] and server["autovacuum"]:
            findings.append(
                Finding(
                    WARNING,
                    "vacuum",
                    f"{name}: autovacuum is off for this table",
                    "It is never vacuumed or analyzed automatically.",
                    f"ALTER TABLE {name} RESET (autovacuum_enabled);",
                )
            )
        if rows >= large and table["seq_scan"] > table["idx_scan"] and table["seq_rows_read"] >= large:
            average = table["seq_rows_read"] // max(table["seq_scan"], 1)
            findings.append(
                Finding(
                    WARNING,
                    "seq-scans",
                    f"{name}: more sequential scans than index scans",
                    f"{table['seq_scan']:,} sequential scans (about {average:,} rows each) against "
                    f"{table['idx_scan']:,} index scans on a table of about {rows:,} rows.",
                    "Find the statements that read it whole (pg_stat_statements, or the slow request log) and "
                    "index what they filter on. Backups (pg_dump) and exact counts add one sequential scan each.",
                )
            )
        dead = table["dead_rows"]
        if dead >= DEAD_TUPLE_MIN and dead / max(dead + table["live_rows"], 1) >= DEAD_TUPLE_RATIO:
            findings.append(
                Finding(
                    WARNING,
                    "dead-tuples",
                    f"{name}: {dead:,} dead rows ({dead / (dead + table['live_rows']):.0%})",
                    f"Last vacuum: {_when(table['last_vacuum'])}.",
                    f"Run VACUUM (ANALYZE) {name}; if it keeps coming back, vacuum the table more often with "
                    f"ALTER TABLE {name} SET (autovacuum_vacuum_scale_factor = 0.05), and look for long-running "
                    "or idle-in-transaction sessions that hold vacuum back.",
                )
            )
        if rows >= large and table["last_analyze"] is None:
            findings.append(
                Finding(
                    WARNING,
                    "analyze",
                    f"{name}: never analyzed",
                    f"About {rows:,} rows and no statistics yet; the planner guesses.",
                    f"Run ANALYZE {name}"
                    + (" (autovacuum will also do it soon after a large load)." if server["autovacuum"] else "."),
                )
            )
        elif rows >= large and table["changed_since_analyze"] > rows * DEAD_TUPLE_RATIO:
            findings.append(
                Finding(
                    NOTE,
                    "analyze",
                    f"{name}: statistics behind",
                    f"{table['changed_since_analyze']:,} rows changed since the last analyze "
                    f"({_when(table['last_analyze'])}).",
                    f"Run ANALYZE {name} after bulk changes"
                    + ("; autovacuum catches up on its own otherwise." if server["autovacuum"] else "."),
                )
            )
    return tables


def _unused_indexes(rows: dict[str, int], large: int, in_key_plans: set[str], findings: list[Finding]) -> dict:
    [stats] = _fetch("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
    since = stats["stats_reset"]
    found = _fetch(
        """
        SELECT s.relname AS table, s.indexrelname AS index, pg_relation_size(s.indexrelid) AS bytes,
               pg_get_indexdef(s.indexrelid) AS definition
        FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
        WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND s.schemaname = current_schema()
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
        ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname
        """
    )
    # The statistics lag a little, and a plan of ours that just used an index proves it is needed.
    indexes = [
        {**index, "table_rows": rows.get(index["table"], 0)} for index in found if index["index"] not in in_key_plans
    ]
    window = f"since the statistics were reset on {since:%Y-%m-%d}" if since else "since the statistics began"
    advice = (
        "If that window covers normal traffic (on every replica too) and no rare feature needs it, drop it: "
        "remove it from the model's Meta.indexes (or db_index=False on a foreign key another index leads with) "
        "and migrate; on a live database DROP INDEX CONCURRENTLY."
    )
    small = []
    for index in indexes:
        if index["table_rows"] < large:
            small.append(index)
            continue
        findings.append(
            Finding(
                NOTE,
                "unused-index",
                f"{index['index']} on {index['table']} ({_size(index['bytes'])}) never used",
                f"No scan {window}. Every write to {index['table']} still updates it.",
                advice,
            )
        )
    if small:
        findings.append(
            Finding(
                NOTE,
                "unused-index",
                f"{len(small)} index(es) on small tables never used ({_size(sum(i['bytes'] for i in small))} in all)",
                f"No scan {window}; the tables hold fewer than {large:,} rows, so the indexes cost little yet.",
                "Nothing to do now; look again when the tables have grown.",
            )
        )
    return {"since": since, "indexes": indexes}


def _index_catalog() -> list[dict]:
    return _fetch(
        """
        SELECT t.relname AS table, c.relname AS index, i.indisunique AS is_unique, i.indisprimary AS is_primary,
               i.indnkeyatts AS key_count, i.indkey::int2[] AS columns, i.indclass::oid[] AS opclasses,
               i.indoption::int2[] AS options, am.amname AS method,
               pg_get_expr(i.indpred, i.indrelid) AS predicate, pg_get_expr(i.indexprs, i.indrelid) AS expressions,
               pg_relation_size(i.indexrelid) AS bytes, pg_get_indexdef(i.indexrelid) AS definition,
               EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS backs_constraint
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_am am ON am.oid = c.relam
        WHERE n.nspname = current_schema()
        ORDER BY t.relname, c.relname
        """
    )


def _keys(index: dict) -> list[tuple]:
    """The key columns with their operator class and sort options: what makes two indexes interchangeable."""
    count = index["key_count"]
    return list(zip(index["columns"][:count], index["opclasses"][:count], index["options"][:count], strict=True))


def _duplicate_indexes(rows: dict[str, int], large: int, findings: list[Finding]) -> list[dict]:
    """Indexes another index of the same table makes unnecessary: one finding per index to drop."""
    by_table: dict[str, list[dict]] = {}
    for index in _index_catalog():
        if index["expressions"] is None:
            by_table.setdefault(index["table"], []).append(index)
    redundant: dict[str, dict] = {}
    for table, indexes in by_table.items():
        for shorter in indexes:
            for longer in indexes:
                if shorter is longer or (shorter["predicate"], shorter["method"]) != (
                    longer["predicate"],
                    longer["method"],
                ):
                    continue
                short_keys, long_keys = _keys(shorter), _keys(longer)
                if short_keys == long_keys:
                    # Identical: keep the one a constraint needs, else the first by name.
                    keep_longer = longer["backs_constraint"] or (
                        not shorter["backs_constraint"] and longer["index"] < shorter["index"]
                    )
                    if not keep_longer:
                        continue
                    kind = "duplicate"
                elif shorter["method"] == "btree" and long_keys[: len(short_keys)] == short_keys:
                    if shorter["is_unique"]:
                        continue  # the uniqueness needs its own index
                    kind = "overlapping"
                else:
                    continue
                entry = redundant.setdefault(
                    shorter["index"],
                    {
                        "table": table,
                        "table_rows": rows.get(table, 0),
                        "kind": kind,
                        "index": shorter["index"],
                        "definition": shorter["definition"],
                        "bytes": shorter["bytes"],
                        "covered_by": [],
                    },
                )
                entry["covered_by"].append(longer["index"])
    small = []
    for entry in redundant.values():
        if entry["table_rows"] < large:
            small.append(entry)
            continue
        covered_by = ", ".join(entry["covered_by"])
        findings.append(
            Finding(
                WARNING,
                "duplicate-index",
                f"{entry['index']} on {entry['table']} ({_size(entry['bytes'])}) is "
                + ("a duplicate" if entry["kind"] == "duplicate" else "redundant"),
                (
                    f"{covered_by} indexes the same columns the same way."
                    if entry["kind"] == "duplicate"
                    else f"Its columns lead {covered_by}, which can serve the same lookups."
                )
                + " Every write pays for both.",
                f"Drop {entry['index']}: remove it from the model (Meta.indexes, or db_index=False on the foreign key "
                "it serves) and migrate; on a live database DROP INDEX CONCURRENTLY.",
            )
        )
    if small:
        findings.append(
            Finding(
                NOTE,
                "duplicate-index",
                f"{len(small)} redundant index(es) on small tables ({_size(sum(e['bytes'] for e in small))} in all)",
                f"Listed above; their tables hold fewer than {large:,} rows. Most are the single-column indexes "
                "Django adds to every foreign key, led by a composite index of the same table.",
                "Nothing urgent; drop them (db_index=False on the foreign key) when a table grows.",
            )
        )
    return list(redundant.values())


def _unindexed_foreign_keys(rows: dict[str, int], large: int, findings: list[Finding]) -> list[dict]:
    keys = _fetch(
        """
        SELECT t.relname AS table, k.conname AS constraint, k.conkey::int2[] AS columns,
               f.relname AS referenced_table,
               array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(attnum, position)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
                     ORDER BY u.position) AS column_names
        FROM pg_constraint k
        JOIN pg_class t ON t.oid = k.conrelid
        JOIN pg_class f ON f.oid = k.confrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE k.contype = 'f' AND n.nspname = current_schema()
        ORDER BY t.relname, k.conname
        """
    )
    leading: dict[str, list[list[int]]] = {}
    for index in _index_catalog():
        if index["predicate"] is None:
            leading.setdefault(index["table"], []).append(index["columns"][: index["key_count"]])
    missing = []
    for key in keys:
        columns = set(key["columns"])
        supported = any(set(index[: len(columns)]) == columns for index in leading.get(key["table"], []))
        if supported:
            continue
        table_rows = rows.get(key["table"], 0)
        missing.append({**key, "table_rows": table_rows})
        column_list = ", ".join(key["column_names"])
        findings.append(
            Finding(
                WARNING if table_rows >= large else NOTE,
                "unindexed-foreign-key",
                f"{key['table']}({column_list}) → {key['referenced_table']} has no index",
                f"Deleting or changing a {key['referenced_table']} row scans {key['table']} (about {table_rows:,} "
                "rows) to check this key, and joins on it cannot use an index.",
                f"Index {key['table']}({column_list}): db_index=True on the field or an entry in Meta.indexes, then "
                f"migrate; on a live database CREATE INDEX CONCURRENTLY ON {key['table']} ({column_list}).",
            )
        )
    return missing


# --- statements and connections ----------------------------------------------------------------


def _statements(findings: list[Finding]) -> dict:
    [loaded] = _fetch(
        "SELECT extversion AS version, current_setting('shared_preload_libraries') AS preload "
        "FROM (SELECT 1) one LEFT JOIN pg_extension ON extname = 'pg_stat_statements'"
    )
    preloaded = "pg_stat_statements" in (loaded["preload"] or "")
    how = (
        "Run CREATE EXTENSION pg_stat_statements; in this database (a superuser, or the managed service's admin)."
        if preloaded
        else "Add pg_stat_statements to shared_preload_libraries (postgresql.conf, or the managed service's "
        "parameter group), restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements; in this database."
    )
    if loaded["version"] is None:
        findings.append(
            Finding(NOTE, "statements", "pg_stat_statements is not installed", "No per-statement timings.", how)
        )
        return {"available": False, "how_to_enable": how, "slowest": []}
    try:
        with transaction.atomic():
            slowest = _fetch(
                """
                SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
                       round(mean_exec_time::numeric, 2) AS mean_ms, rows,
                       shared_blks_hit AS hit_blocks, shared_blks_read AS read_blocks,
                       left(regexp_replace(query, '\\s+', ' ', 'g'), 300) AS query
                FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY total_exec_time DESC
                LIMIT 10
                """
            )
    except DatabaseError as exc:  # installed but not preloaded: the view refuses to answer
        findings.append(Finding(NOTE, "statements", "pg_stat_statements is not loaded", str(exc).strip(), how))
        return {"available": False, "how_to_enable": how, "slowest": []}
    for statement in slowest:
        if statement["mean_ms"] >= SLOW_STATEMENT_MS and statement["calls"] >= 10:
            findings.append(
                Finding(
                    WARNING,
                    "statements",
                    f"slow statement: {statement['mean_ms']} ms on average over {statement['calls']:,} calls",
                    statement["query"],
                    "EXPLAIN (ANALYZE, BUFFERS) it with real parameters and index what it filters and sorts on.",
                )
            )
    return {"available": True, "version": loaded["version"], "slowest": slowest}


def _connections(web_instances: int, task_workers: int, findings: list[Finding]) -> dict:
    [server] = _fetch(
        """
        SELECT current_setting('max_connections')::int AS max_connections,
               current_setting('superuser_reserved_connections')::int
                 + coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
               current_setting('idle_in_transaction_session_timeout') AS idle_in_transaction_timeout,
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS in_use,
               (SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction') AS idle_in_transaction
        """
    )
    env = settings.ENV
    cpus = multiprocessing.cpu_count()
    web_workers = env["WEB_CONCURRENCY"] or 2 * cpus
    threads = env["GUNICORN_THREADS"]
    pool = env["DATABASE_POOL_MAX_SIZE"]
    # Django's connections are per thread; with the pool a process never holds more than its pool size.
    per_web_process = min(threads, pool) if pool else threads
    per_instance = web_workers * per_web_process + task_workers + 1  # + 1: the scheduler
    budget = web_instances * per_instance
    usable = server["max_connections"] - server["reserved"]
    formula = (
        f"{web_instances} instance(s) × ({web_workers} web workers × {per_web_process} connection(s) "
        f"[{threads} threads{f', pool of {pool}' if pool else ', no pool'}] + {task_workers} task worker(s) "
        f"+ 1 scheduler) = {budget}"
    )
    if budget > usable * CONNECTION_SHARE:
        findings.append(
            Finding(
                WARNING,
                "connections",
                f"connection budget {budget} is {budget / usable:.0%} of the {usable} usable connections",
                f"{formula}; max_connections is {server['max_connections']} with {server['reserved']} reserved. "
                "Deploys briefly run old and new processes side by side, and migrations and shells need some too.",
                "Lower WEB_CONCURRENCY, GUNICORN_THREADS or DATABASE_POOL_MAX_SIZE, put PgBouncer (transaction "
                "mode) in front of PostgreSQL, or raise max_connections (each costs memory on the server).",
            )
        )
    if pool and pool < threads:
        findings.append(
            Finding(
                NOTE,
                "connections",
                f"DATABASE_POOL_MAX_SIZE {pool} is below GUNICORN_THREADS {threads}",
                "Busy threads wait up to 10 s for a free connection, then fail the request.",
                "Make the pool at least as large as the thread count.",
            )
        )
    if server["idle_in_transaction_timeout"] in ("0", "0ms"):
        findings.append(
            Finding(
                NOTE,
                "connections",
                "idle_in_transaction_session_timeout is off",
                "A session that opens a transaction and stalls keeps its locks and holds back vacuum indefinitely.",
                "Set it for the app's role, e.g. ALTER ROLE caly SET idle_in_transaction_session_timeout = '60s'.",
            )
        )
    return {
        **server,
        "usable": usable,
        "web_instances": web_instances,
        "web_workers": web_workers,
        "web_workers_source": "WEB_CONCURRENCY" if env["WEB_CONCURRENCY"] else f"2 × {cpus} CPUs of this machine",
        "threads": threads,
        "pool_max_size": pool,
        "task_workers": task_workers,
        "budget": budget,
        "formula": formula,
    }


# --- text -------------------------------------------------------------------------------------


def _size(count: int | None) -> str:
    value = float(count or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"


def _grid(headers: list[str], rows: list[list[Any]], indent: str = "  ") -> list[str]:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[n]) for row in cells)) for n, header in enumerate(headers)]
    line = indent + "  ".join(header.ljust(widths[n]) for n, header in enumerate(headers))
    out = [line.rstrip(), indent + "  ".join("-" * width for width in widths)]
    out += [(indent + "  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row))).rstrip() for row in cells]
    return out


def _on_small_tables(count: int, after_others: bool, large: int) -> str:
    return f"  {f'and {count} more' if after_others else 'all'} on tables under {large:,} rows (--json lists them)"


def render_text(report: Report, *, top_tables: int = 15) -> str:
    if report.vendor != "postgresql":
        lines = [
            f"dbdoctor: this database is {report.vendor} ({report.database}); the checks are PostgreSQL's.",
            "These parts do not apply here:",
            *(f"  - {part}" for part in report.not_applicable),
            "Run it against PostgreSQL (DATABASE_URL=postgres://…) for the report.",
        ]
        return "\n".join(lines) + "\n"
    lines = [
        f"Database doctor: PostgreSQL {report.server_version}, database {report.database}, {report.generated_at}",
        f"A large table has {report.large_table_rows:,} rows or more (--seq-scan-rows). Read-only; nothing changed.",
        "",
    ]
    if report.client:
        lines.append(
            f"Key queries, EXPLAIN (ANALYZE, BUFFERS) for client {report.client['slug']} "
            f"({report.client['calls']:,} calls)"
        )
        lines += _grid(
            ["#", "query", "ms", "rows", "buffers hit/read", "verdict"],
            [
                [
                    number,
                    query["name"],
                    f"{query['execution_ms']:.2f}",
                    query["rows"],
                    f"{query['shared_hit_blocks']}/{query['shared_read_blocks']}",
                    "ok" if query["ok"] else "SEQ SCAN on a large table",
                ]
                for number, query in enumerate(report.key_queries, start=1)
            ],
        )
        lines.append("  Plans:")
        lines += [f"  {number:>2}. {query['plan']}" for number, query in enumerate(report.key_queries, start=1)]
        lines.append("")
    lines.append(f"Tables (largest {min(top_tables, len(report.tables))} of {len(report.tables)})")
    lines += _grid(
        [
            "table",
            "rows",
            "total",
            "table",
            "indexes",
            "seq scans",
            "index scans",
            "dead",
            "last vacuum",
            "last analyze",
        ],
        [
            [
                table["name"],
                f"{table['rows']:,}",
                _size(table["total_bytes"]),
                _size(table["table_bytes"]),
                _size(table["index_bytes"]),
                f"{table['seq_scan']:,}",
                f"{table['idx_scan']:,}",
                f"{table['dead_rows']:,}",
                _when(table["last_vacuum"]),
                _when(table["last_analyze"]),
            ]
            for table in report.tables[:top_tables]
        ],
    )
    lines.append("")
    large = report.large_table_rows
    unused = report.unused_indexes["indexes"]
    since = report.unused_indexes["since"]
    shown = [index for index in unused if index["table_rows"] >= large]
    lines.append(f"Indexes never used ({len(unused)}; statistics since {_when(since) if since else 'they began'})")
    lines += (
        _grid(["index", "table", "size"], [[i["index"], i["table"], _size(i["bytes"])] for i in shown]) if shown else []
    )
    if len(unused) > len(shown):
        lines.append(_on_small_tables(len(unused) - len(shown), bool(shown), large))
    lines += [] if unused else ["  none"]
    lines.append("")
    redundant = report.duplicate_indexes
    shown = [entry for entry in redundant if entry["table_rows"] >= large]
    lines.append(f"Duplicate or overlapping indexes ({len(redundant)})")
    lines += [
        f"  {entry['index']} ({entry['kind']}, {_size(entry['bytes'])}) is covered by {', '.join(entry['covered_by'])}"
        for entry in shown
    ]
    if len(redundant) > len(shown):
        lines.append(_on_small_tables(len(redundant) - len(shown), bool(shown), large))
    lines += [] if redundant else ["  none"]
    lines.append("")
    lines.append(f"Foreign keys without a supporting index ({len(report.unindexed_foreign_keys)})")
    lines += [
        f"  {key['table']}({', '.join(key['column_names'])}) → {key['referenced_table']}"
        for key in report.unindexed_foreign_keys
    ] or ["  none"]
    lines.append("")
    statements = report.statements
    if statements["available"]:
        lines.append("Statements taking the most time (pg_stat_statements)")
        lines += _grid(
            ["total ms", "mean ms", "calls", "query"],
            [[s["total_ms"], s["mean_ms"], f"{s['calls']:,}", s["query"][:100]] for s in statements["slowest"]],
        )
    else:
        lines += ["Slowest statements: pg_stat_statements is not available.", f"  {statements['how_to_enable']}"]
    lines.append("")
    connections = report.connections
    lines += [
        "Connections",
        f"  max_connections {connections['max_connections']} ({connections['reserved']} reserved), "
        f"{connections['in_use']} in use now, {connections['idle_in_transaction']} idle in a transaction",
        f"  budget: {connections['formula']} ({connections['budget'] / max(connections['usable'], 1):.0%} of "
        f"{connections['usable']} usable); web workers from {connections['web_workers_source']}",
        "",
    ]
    counts = {severity: sum(f.severity == severity for f in report.findings) for severity in (ERROR, WARNING, NOTE)}
    lines.append(f"Findings: {counts[ERROR]} error(s), {counts[WARNING]} warning(s), {counts[NOTE]} note(s)")
    order = {ERROR: 0, WARNING: 1, NOTE: 2}
    for finding in sorted(report.findings, key=lambda f: order[f.severity]):
        lines.append(f"  {finding.severity.upper():7} {finding.subject}")
        lines.append(f"          {finding.detail}")
        lines.append(f"          → {finding.recommendation}")
    lines.append("")
    lines.append(
        "Exit status 2: a key query reads a large table sequentially."
        if report.exit_status
        else "Exit status 0: every key query uses an index on the large tables."
    )
    return "\n".join(lines) + "\n"
