"""Restarts under load: real gunicorn on 127.0.0.1 (the Procfile's web line, 2 workers), an open-model load
(tests/loadgen.py, up to 100 requests in flight), and a report of what the load saw, phase by phase.

1. A rolling restart in place: SIGHUP twice (new workers, the listening socket kept), then USR2 (a new
   master that inherits the socket) and, once its workers are ready, SIGTERM to the old master. The
   socket is never closed, so not one request may fail.
2. The drain-first recipe (docs/operations.md, Restarts and draining), for instances that are replaced
   rather than upgraded in place, behind a load balancer that honours readiness: start the new
   instance, create the old one's DRAIN_FILE, wait for the balancer to stop sending it connections,
   then SIGTERM it. A plain SIGTERM would close its listening socket with connections still queued on
   it, which the kernel resets (gunicorn #3397); drained first, it has none. Not one request may fail.

Not SO_REUSEPORT: gunicorn (27) then gives every worker a listening socket of its own, and each worker
exit (every HUP, every max_requests recycle) resets the connections queued on that worker's socket.

`make hardening-long` runs both for 45 s at 100 requests a second (CALY_HARDENING_LONG=1); the suite
runs them for 15 s at 60.
"""

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests import instances
from tests.loadgen import Load, Outcome, report
from tests.serving import clean_env
from tests.tcp_proxy import Balancer

pytestmark = pytest.mark.slow

LONG = os.environ.get("CALY_HARDENING_LONG") == "1"
RATE = 100 if LONG else 60  # requests started per second
HOLD_SECONDS = 9 if LONG else 3  # each phase runs this long under load once its step is done
MAX_SECONDS = 180  # the load stops sooner: when the last phase has been held
CONCURRENCY = 100
GRACEFUL_TIMEOUT = 20
BOUND_SECONDS = 60  # any one wait for a server: "does not hang", not a benchmark

CREATE_USER = """
from django.utils import timezone
from accounts import jwt
from accounts.models import Client, User
client = Client.objects.create(name="Restart Apparel", slug="restart-apparel")
user = User.objects.create_user("owner@restart.example", "correct horse battery staple", client=client, role="owner")
user.email_verified_at = timezone.now()
user.save()
print(jwt.family_start(user=user).access)
"""


def instance_env(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The environment every instance of a test shares (one SQLite database, migrated), and a user's token."""
    env = clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.instances_settings",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        MEDIA_ROOT=str(tmp_path / "media"),
        TASKS_BACKEND="database",
        GUNICORN_THREADS="8",
        GUNICORN_GRACEFUL_TIMEOUT=str(GRACEFUL_TIMEOUT),
        RATE_LIMIT_API_USER="1000000/m",  # the load is one user; its limit is not what is tested
        LOG_LEVEL="info",
    )
    instances.manage(env, "migrate", "--noinput")
    token = instances.manage(env, "shell", "-v", "0", "-c", CREATE_USER).strip().splitlines()[-1]
    return env, token


def requests_to(port: int, token: str):
    """The mix: liveness (no I/O), the signed-in user (JWT, database), and a request in flight for 0.3 s."""
    base = f"http://127.0.0.1:{port}"

    def request(n: int):
        if n % 20 < 12:
            return ("GET", f"{base}/health/live", {}, b"")
        if n % 20 < 17:
            return ("GET", f"{base}/api/v1/me", {"Authorization": f"Bearer {token}"}, b"")
        return ("GET", f"{base}/slow/?seconds=0.3&id={n}", {}, b"")

    return request


def hold(load: Load, phase: str) -> None:
    """Keep the load on for HOLD_SECONDS more, then label what follows `phase`."""
    time.sleep(HOLD_SECONDS)
    load.phase = phase


def accepted_ids(*servers: instances.Gunicorn, run_id: str) -> set[str]:
    """Request ids the application logged: requests it read and answered (caly.access, one line each)."""
    pattern = re.compile(rf"\[({re.escape(run_id)}-\d+)\]")
    return {match for server in servers for match in pattern.findall(server.output())}


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    """Requests sent that did not get an expected answer (one not sent, all clients being busy, is no failure)."""
    return [outcome for outcome in outcomes if not outcome.ok and outcome.kind != "dropped"]


@pytest.mark.django_db
def test_a_draining_instance_fails_readiness_and_still_serves_what_it_is_sent(client, settings, tmp_path):
    settings.DRAIN_FILE = str(tmp_path / "web.drain")
    assert client.get("/health/ready").status_code == 200

    Path(settings.DRAIN_FILE).touch()
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.json() == {"status": "draining", "failing": ["draining"]}
    assert client.get("/health/live").status_code == 200
    assert client.get("/accounts/login/").status_code == 200

    Path(settings.DRAIN_FILE).unlink()
    assert client.get("/health/ready").status_code == 200


def test_a_rolling_restart_in_place_under_load_fails_no_request(tmp_path):
    env, token = instance_env(tmp_path)
    server = instances.start_gunicorn(env, tmp_path / "gunicorn.log", workers=2)
    old_master, new_master = server.pid, None
    load = Load(requests_to(server.port, token), rate=RATE, seconds=MAX_SECONDS, concurrency=CONCURRENCY)
    try:
        load.start().phase = "steady"
        for step in ("hup-1", "hup-2"):
            hold(load, step)
            ready = len(server.ready_workers())
            server.signal(signal.SIGHUP)  # new workers with new code; the old ones finish what they hold
            wait_until(lambda ready=ready: len(server.ready_workers()) >= ready + 2, f"the workers of {step}")
        hold(load, "new-master")
        server.signal(signal.SIGUSR2)  # a new master, inheriting the listening socket
        wait_until(lambda: len(server.masters()) == 2, "the new master")
        new_master = server.masters()[-1]
        wait_until(lambda: len(server.ready_workers(since_master=new_master)) >= 2, "the new master's workers")
        hold(load, "term-old")
        server.signal(signal.SIGTERM)  # the old master and its workers drain and exit; the socket stays open
        assert server.process.wait(timeout=GRACEFUL_TIMEOUT + 10) == 0, server.output()
        hold(load, "after")
        time.sleep(HOLD_SECONDS)
        load.stop()
        outcomes = load.join()
        assert instances.http_get(server.port, "/health/ready")[0] == 200  # the new master serves on
    finally:
        load.stop()
        if new_master is not None:
            instances.stop_pid(new_master)
        server.stop()

    print(report(outcomes, title=f"rolling restart in place at {RATE}/s: masters {old_master} then {new_master}"))
    accepted = accepted_ids(server, run_id=load.run_id)
    failed = failures(outcomes)
    assert len(outcomes) == load.scheduled
    assert failed == [], [(o.phase, o.kind, o.request_id in accepted, o.error[:100]) for o in failed[:20]]
    assert len(accepted) == sum(1 for o in outcomes if o.kind != "dropped")  # each answered request logged once


def test_the_drain_first_recipe_restarts_an_instance_without_a_single_failure(tmp_path):
    env, token = instance_env(tmp_path)
    old_drain, new_drain = tmp_path / "old.drain", tmp_path / "new.drain"
    old = instances.start_gunicorn({**env, "DRAIN_FILE": str(old_drain)}, tmp_path / "old.log", workers=2)
    new = None
    with Balancer(old.port, interval=0.25) as balancer:
        load = Load(requests_to(balancer.port, token), rate=RATE, seconds=MAX_SECONDS, concurrency=CONCURRENCY)
        try:
            load.start().phase = "steady"
            hold(load, "new-instance")
            new = instances.start_gunicorn({**env, "DRAIN_FILE": str(new_drain)}, tmp_path / "new.log", workers=2)
            balancer.add(new.port)
            wait_until(lambda: new.port in balancer.healthy, "the balancer to send the new instance traffic")

            hold(load, "drain")
            old_drain.touch()  # 1. fail readiness
            wait_until(lambda: old.port not in balancer.healthy, "the balancer to notice")  # 2. it stops
            given_to_old = balancer.connections_to[old.port]
            time.sleep(2 * balancer.interval)  # 3. a margin, as for a balancer's unhealthy threshold
            load.phase = "term-old"
            old.signal(signal.SIGTERM)  # 4. in-flight requests finish, nothing new arrives
            assert old.process.wait(timeout=GRACEFUL_TIMEOUT + 10) == 0, old.output()
            assert balancer.connections_to[old.port] == given_to_old

            hold(load, "after")
            time.sleep(HOLD_SECONDS)
            load.stop()
            outcomes = load.join()
        finally:
            load.stop()
            old.stop()
            if new is not None:
                new.stop()

    print(report(outcomes, title=f"drain first, then SIGTERM, at {RATE}/s"))
    given = balancer.connections_to
    print(f"connections given to the old instance: {given.get(old.port, 0)}, to the new: {given.get(new.port, 0)}")
    assert len(outcomes) == load.scheduled
    assert failures(outcomes) == []
    assert given[new.port] > 0
