"""Short forms of the PostgreSQL fault campaigns (bench/faults/run pg_restart, pg_terminate)."""
import time

import pytest

from conftest import DB_URL, ensure_pg_running, http
from faults_helpers import assert_clean, faults


def _wait_shared_ready(server):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if http("GET", server.url + "/health/ready", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)


def _check_outage(fig, request_timeout=5.0):
    assert set(fig["statuses"]) <= {"200", "201", "503"}, fig
    assert fig["statuses"].get("503", 0) >= 1, "the outage was not noticed: %s" % fig
    assert fig["max_s"] < request_timeout + 1, "an answer took longer than HTTP_REQUEST_TIMEOUT: %s" % fig
    assert fig["recovery_s"] < 2.0, "not fully serving 2 s after PostgreSQL accepted connections: %s" % fig
    assert fig["writes_201"] > 0 and fig["writes_lost"] == 0 and fig["writes_twice"] == 0, fig
    assert fig["server_alive"], fig


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_faults_pg_restart_under_load(server, mode):
    try:
        # the test cluster runs with synchronous_commit off, which -m immediate punishes by
        # design: this server's sessions turn it back on, as a production cluster has it
        sep = "&" if "?" in DB_URL else "?"
        url = DB_URL + sep + "options=-c%20synchronous_commit%3Don"
        fig = faults.pg_restart(mode, seconds=3.0, readers=2, writers=2, wrk_conns=0, env={"DATABASE_URL": url})
    finally:
        ensure_pg_running()
        _wait_shared_ready(server)
    _check_outage(fig)
    assert_clean(fig)


def test_faults_pool_connections_terminated(server):
    fig = faults.pg_terminate(seconds=3.0, rounds=3, readers=3, writers=2)
    assert fig["terminated"] >= 2, fig
    _check_outage(fig)
    assert fig["reconnects"] >= 2, fig
    assert_clean(fig)
