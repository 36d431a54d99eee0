"""The env module is the one source of truth for configuration and its documentation."""

import re
from pathlib import Path

import pytest

from caly.foundation import env

ROOT = Path(__file__).resolve().parent.parent


def test_it_keeps_env_example_identical_to_the_env_module():
    assert (ROOT / ".env.example").read_text() == env.render_example(), "run: make docs"


def test_it_lists_every_variable_in_env_example():
    names = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert names == {var.name for var in env.VARIABLES}


def test_it_keeps_the_readme_tables_generated_from_code():
    from caly.docs import BLOCKS, replace_block

    readme = (ROOT / "README.md").read_text()
    for marker, render in BLOCKS.items():
        assert replace_block(readme, marker, render()) == readme, "run: make docs"
    assert "<!-- env-table:start -->" in readme and "<!-- error-table:start -->" in readme


def test_it_needs_nothing_set_outside_production():
    values = env.read({})
    assert values["DATABASE_URL"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["REDIS_URL"] is None
    assert values["STORAGE_BACKEND"] == "local"


def test_it_lists_every_production_problem_in_one_error():
    broken = {"DATABASE_URL": "mysql://db/caly", "WEB_CONCURRENCY": "many", "SECRET_KEY": "short-secret"}
    with pytest.raises(env.EnvError) as error:
        env.read(broken, production=True)
    names = {name for name, _, _ in error.value.problems}
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY", "EMAIL_URL"} <= names
    message = str(error.value)
    assert message.startswith("Caly cannot start:")
    assert "example: DATABASE_URL=postgres://" in message
    assert "short-secret" not in message  # secrets are never echoed


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("PORT", "0", "must be 1 or more"),
        ("SECURE_SSL_REDIRECT", "maybe", "must be true or false"),
        ("REDIS_URL", "http://cache", "must be a redis://"),
        ("STORAGE_BACKEND", "ftp", "must be one of local, s3"),
        ("CLIENT_ERRORS_RATE", "lots", "must look like 30/m"),
        ("SITE_URL", "caly.example.com", "must start with http"),
        ("DATABASE_URL", "postgres://127.0.0.1:5432", "must name a database"),
    ],
)
def test_it_explains_a_malformed_value(name, value, problem):
    with pytest.raises(env.EnvError) as error:
        env.read({name: value})
    assert next(p for n, p, _ in error.value.problems if n == name).startswith(problem)


def test_it_requires_the_s3_settings_when_s3_is_chosen():
    with pytest.raises(env.EnvError) as error:
        env.read({"STORAGE_BACKEND": "s3", "S3_BUCKET_NAME": "recordings"})
    names = {name for name, _, _ in error.value.problems}
    assert names == {"S3_ENDPOINT_URL", "S3_REGION_NAME", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"}


def test_it_accepts_a_complete_production_environment():
    values = env.read(
        {
            "SECRET_KEY": "x" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789",
            "ALLOWED_HOSTS": "caly.example.com, www.caly.example.com",
            "SITE_URL": "https://caly.example.com/",
            "DATABASE_URL": "postgres://caly:pw@db.internal:5432/caly",
            "REDIS_URL": "redis://cache.internal:6379/0",
            "STORAGE_BACKEND": "local",
            "EMAIL_URL": "smtp+tls://u:p@smtp.example.com:587",
            "FIELD_ENCRYPTION_KEYS": "bmV3LWtleS0zMi1ieXRlcy1vZi11cmwtc2FmZS1iNjQ=",
        },
        production=True,
    )
    assert values["ALLOWED_HOSTS"] == ["caly.example.com", "www.caly.example.com"]
    assert values["SITE_URL"] == "https://caly.example.com"
    assert values["DATABASE_URL"]["ENGINE"] == "django.db.backends.postgresql"


def test_it_uses_a_pool_or_persistent_connections_never_both(settings):
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        pooled = "pool" in database.get("OPTIONS", {})
        assert pooled == (database["CONN_MAX_AGE"] == 0)
        assert pooled or database["CONN_HEALTH_CHECKS"]


def test_it_builds_a_psycopg_pool_when_asked(monkeypatch):
    import importlib

    import caly.settings.base as base

    monkeypatch.setenv("DATABASE_URL", "postgres://caly@127.0.0.1:5432/caly")
    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "6")
    try:
        reloaded = importlib.reload(base)
        database = reloaded.DATABASES["default"]
        assert database["OPTIONS"]["pool"]["max_size"] == 6
        assert database["CONN_MAX_AGE"] == 0
        monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "0")
        database = importlib.reload(base).DATABASES["default"]
        assert "pool" not in database["OPTIONS"] and database["CONN_MAX_AGE"] == 60 and database["CONN_HEALTH_CHECKS"]
    finally:
        monkeypatch.undo()
        importlib.reload(base)


def test_it_selects_django_redis_when_redis_url_is_set(monkeypatch):
    import importlib

    import caly.settings.base as base

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    try:
        caches = importlib.reload(base).CACHES
        assert caches["default"]["BACKEND"] == "django_redis.cache.RedisCache"
        assert caches["default"]["LOCATION"] == "redis://127.0.0.1:6379/3"
    finally:
        monkeypatch.undo()
        importlib.reload(base)
