"""Embedded migrations: idempotent, and safe when two instances start at once."""

import glob
import os
import subprocess
import time
import uuid

import pytest

from conftest import BIN, REPO, Server, db_url_for, free_port, http, psql

ROWS_SQL = "SELECT version::text || '|' || name || '|' || applied_at::text FROM schema_migrations ORDER BY version"


def migration_files():
    files = sorted(glob.glob(os.path.join(REPO, "db", "migrations", "*.sql")))
    assert files, "no db/migrations/*.sql in %s" % REPO
    return files


@pytest.fixture
def fresh_db():
    name = "mig_%s" % uuid.uuid4().hex[:10]
    psql("CREATE DATABASE %s" % name)
    try:
        yield name, db_url_for(name)
    finally:
        psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name, check=False)


def migrate(url):
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env.pop("PORT", None)
    r = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=60, cwd="/tmp")
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in r.stderr, r.stderr
    return r


def test_migrate_twice_changes_nothing(fresh_db):
    name, url = fresh_db
    r1 = migrate(url)
    assert r1.returncode == 0, r1.stderr
    rows1 = psql(ROWS_SQL, url).splitlines()
    assert len(rows1) == len(migration_files()), (rows1, migration_files())
    assert psql("SELECT to_regclass('public.users') IS NOT NULL", url) == "t"
    first = rows1[0].split("|")
    assert first[0] in ("1", "0001"), first
    assert "users" in first[1], first
    time.sleep(0.05)
    r2 = migrate(url)
    assert r2.returncode == 0, r2.stderr
    rows2 = psql(ROWS_SQL, url).splitlines()
    assert rows2 == rows1, "a second migrate changed schema_migrations:\n%s\n%s" % (rows1, rows2)
    assert psql("SELECT to_regclass('public.users') IS NOT NULL", url) == "t"


def test_two_instances_start_at_once(fresh_db):
    name, url = fresh_db
    servers = [Server({"DATABASE_URL": url, "WORKERS": "1"}) for _ in range(2)]
    try:
        for s in servers:
            s.wait_ready()
            s.wait_db_ready()
            st, _, body = http("GET", s.url + "/health/ready")
            assert st == 200, body
        dup = psql("SELECT version FROM schema_migrations GROUP BY version HAVING count(*) > 1", url)
        assert dup == "", "versions applied twice: %s" % dup
        assert int(psql("SELECT count(*) FROM schema_migrations", url)) == len(migration_files())
        assert psql("SELECT to_regclass('public.users') IS NOT NULL", url) == "t"
    finally:
        probs = []
        for s in servers:
            probs += s.finish()
        assert not probs, "\n".join(probs)
