"""Embedded migrations: idempotent, safe when two instances start at once, and each
applied file's SHA-256 recorded so that a file changed afterwards stops start-up."""

import glob
import hashlib
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


def migrate(url, command="migrate"):
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env.pop("PORT", None)
    if command == "serve":
        env.update({"HOST": "127.0.0.1", "PORT": str(free_port()), "WORKERS": "1"})
    r = subprocess.run([BIN, command], env=env, capture_output=True, text=True, timeout=60, cwd="/tmp")
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


def file_checksums():
    """{version: sha256 hex} of the files, as `sha256sum db/migrations/*.sql` prints them."""
    out = {}
    for path in migration_files():
        with open(path, "rb") as f:
            out[os.path.basename(path).split("_", 1)[0]] = hashlib.sha256(f.read()).hexdigest()
    return out


def recorded_checksums(url):
    rows = psql("SELECT version || '|' || coalesce(checksum, '') FROM schema_migrations ORDER BY version", url)
    return dict(line.split("|") for line in rows.splitlines())


def test_each_applied_file_is_recorded_with_its_sha256(fresh_db):
    name, url = fresh_db
    r = migrate(url)
    assert r.returncode == 0, r.stderr
    assert recorded_checksums(url) == file_checksums()


def test_rows_from_before_checksums_get_them_once_and_quietly(fresh_db):
    name, url = fresh_db
    assert migrate(url).returncode == 0
    # the table as every database migrated before checksums has it
    psql("ALTER TABLE schema_migrations DROP COLUMN checksum", url)
    before = psql(ROWS_SQL, url)
    r = migrate(url)
    assert r.returncode == 0, r.stderr
    assert recorded_checksums(url) == file_checksums()
    assert psql(ROWS_SQL, url) == before, "filling in the checksums changed the rows"
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "up to date" in lines[0], r.stderr
    # one row of a partly filled table (a fill-in cut short) is filled as well
    psql("UPDATE schema_migrations SET checksum = NULL WHERE version = (SELECT max(version) FROM schema_migrations)",
         url)
    assert migrate(url).returncode == 0
    assert recorded_checksums(url) == file_checksums()


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_migration_changed_after_it_was_applied_stops_start_up(fresh_db, command):
    name, url = fresh_db
    assert migrate(url).returncode == 0
    files = migration_files()
    changed = os.path.basename(files[len(files) // 2])
    version = changed.split("_", 1)[0]
    # what the binary of a changed file would compute: its recorded text is not the file's
    psql("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = '%s'" % version, url)
    # and the newest one not applied yet: nothing may be applied past a changed file
    last = os.path.basename(files[-1]).split("_", 1)[0]
    psql("DELETE FROM schema_migrations WHERE version = '%s'" % last, url)
    r = migrate(url, command)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1, "expected one line, got:\n" + r.stderr
    assert changed in lines[0] and "changed" in lines[0], lines[0]
    assert psql("SELECT count(*) FROM schema_migrations WHERE version = '%s'" % last, url) == "0"
    assert psql("SELECT checksum FROM schema_migrations WHERE version = '%s'" % version, url) == "0" * 64
