"""Short form of the SIGTERM-under-load campaign (bench/faults/run sigterm)."""
from faults_helpers import assert_clean, faults


def test_faults_sigterm_under_load():
    fig = faults.sigterm(seconds=2.0, readers=3, writers=3, wrk_conns=0)
    assert fig["exit_code"] == 0 and fig["exit_after_s"] < 5, fig
    assert fig["new_connections_refused"], fig
    before = fig["before_signal"]
    assert before["requests"] > 0 and set(before["statuses"]) <= {"200", "201"}, fig
    # at the signal: answered in full, or not served at all (refused, or closed before reading it)
    # (an idle keep-alive connection closed just as a request was sent on it is the usual race)
    assert set(fig["at_or_after_signal"]["statuses"]) <= {"200", "201", "503", "ConnectionRefusedError",
                                                          "RemoteDisconnected", "ConnectionResetError",
                                                          "BrokenPipeError"}, fig
    assert fig["writes_lost"] == 0 and fig["writes_twice"] == 0, fig
    assert_clean(fig)
