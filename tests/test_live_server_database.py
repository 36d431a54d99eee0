"""The live server (browser tests) never shares the test's database connection.

On SQLite's shared in-memory database Django hands the test's one connection to every live-server
thread, and the sqlite3 module can deadlock when two threads use it at once while SQLite calls back
into Python: a browser test once sat for ten minutes. The test settings give SQLite a file instead,
so each thread connects on its own, as on PostgreSQL.
"""

import pytest
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_the_live_server_threads_have_connections_of_their_own(live_server):
    if connection.vendor == "sqlite":
        assert not connection.is_in_memory_db()
    assert live_server.thread.connections_override == {}
