"""Short forms of the mail fault campaigns (bench/faults/run smtp_down, kill9)."""
import os

import pytest

from faults_helpers import assert_clean, faults
from test_mail import own_database

pytestmark = pytest.mark.skipif(not os.environ.get("HG_MAILDIR"), reason="needs the SMTP sink of scripts/test")


def test_faults_smtp_down_while_registrations_continue():
    fig = faults.smtp_down(down_s=5.0, rate=5.0, drain_s=20.0, db_url=own_database("faultsmtp"), retry_max="1s")
    assert fig["registrations"] >= 10 and fig["written_during_outage"] >= 5, fig
    assert fig["mails_written"] > fig["registrations"], "no resends: %s" % fig
    assert fig["missing"] == 0 and fig["duplicates"] == 0 and fig["dead"] == 0, fig
    assert fig["out_of_order"] == 0, fig
    assert set(fig["answers"]) <= {"201", "202"}, fig
    assert_clean(fig)


def test_faults_kill9_of_one_instance():
    fig = faults.kill9(seconds=2.0, mails=8, expire="now", db_url=own_database("faultkill"))
    assert fig["claimed_by_a"] == 8, "the dying instance held no claims: %s" % fig
    assert fig["b_alive"] and fig["b_after_kill_ok"] > 0, fig
    assert fig["writes_201"] > 0 and fig["writes_lost"] == 0 and fig["writes_twice"] == 0, fig
    assert fig["mails_missing"] == 0 and fig["mails_twice"] == 0, fig
    assert_clean(fig)
