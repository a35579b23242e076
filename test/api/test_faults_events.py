"""The short form of the event-stream chaos campaign (bench/faults/run sse_chaos, issue 19):
streams of a few users connect and leave at random, half resuming with Last-Event-ID, while
messages are sent and PostgreSQL restarts twice; each stream sees each of its messages once, in
order, and the server (the ASan build here) reports nothing."""
from conftest import ensure_pg_running
from faults_helpers import assert_clean, faults


def test_faults_event_streams_in_chaos():
    try:
        fig = faults.sse_chaos(seconds=60.0, streams=200, users=20, restarts=2, rate=20.0, life_s=4.0)
    finally:
        ensure_pg_running()
    assert_clean(fig)
    assert fig["server_alive"], fig
    assert fig["messages_sent"] > 200 and fig["segments_checked"] > 200, fig
    assert fig["connects"] > 1000, fig
