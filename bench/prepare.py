"""Make the benchmarks' database ready: create it if missing, migrate, seed what is missing, VACUUM ANALYZE.

`make bench` runs this first. The data (see bench/README.md): seed_demo's `demo-store` with 1,000,000 calls,
50 more clients sharing 200,000, 40 products each, and a stored recording on every completed call
(`--recording-rows`: a few real objects per client, shared by the rows). Seeding again adds only what is
missing, so a second run starts at once; drop the database to start afresh.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caly.settings.local")
os.environ.setdefault("LOG_LEVEL", "warning")
# The seeded sample recordings are made again into the benchmark's S3 server (bench/load.py), so the
# local copies seeding writes are not kept in the project's media folder.
os.environ.setdefault("MEDIA_ROOT", str(Path(tempfile.gettempdir()) / "caly-bench-media"))

import psycopg
from psycopg import sql


def create_database(url: str) -> bool:
    """CREATE DATABASE when it does not exist yet (connecting to the server's `postgres` database)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls of demo-store (default 1,000,000)")
    parser.add_argument("--clients", type=int, default=50, help="other clients (default 50)")
    parser.add_argument("--other-calls", type=int, default=200_000, help="their calls together (default 200,000)")
    parser.add_argument("--products", type=int, default=40, help="products of every client (default 40)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://… (see bench/README.md)")
    if create_database(url):
        print(f"created the database {urlsplit(url).path.lstrip('/')}", flush=True)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Client
    from bench.harness import vacuum_analyze
    from recordings.models import Call

    call_command("migrate", "--noinput", verbosity=0)
    client = Client.objects.filter(slug="demo-store").first()
    have = Call.objects.for_client(client).count() if client else 0
    others = Call.objects.filter(client__slug__startswith="demo-store-").count()
    if have >= args.calls and others >= args.other_calls:
        print(f"data ready: {have:,} calls for demo-store, {others:,} for the other demo clients", flush=True)
        print(f"VACUUM ANALYZE: {vacuum_analyze(connection):.1f} s", flush=True)
        return 0
    started = time.perf_counter()
    print("seeding (bulk inserts; about seven minutes for the default sizes)…", flush=True)
    call_command(
        "seed_demo",
        "--allow-production",
        calls=args.calls,
        clients=args.clients,
        other_calls=args.other_calls,
        products=args.products,
        no_audio=True,
        recording_rows=True,
    )
    vacuum_analyze(connection)
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
