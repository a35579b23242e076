-- Two of 0015's statements scanned the whole events table under the
-- generic plans the pool asks for (plan_cache_mode, db_pool.c), where
-- `id > $x` is guessed to match a third of the table:
--   * events_fetch's "is anything newer than the settled id" was an EXISTS
--     the planner ran as a sequential scan: 0.8 s at 460 000 rows, for every
--     read of every worker, so a change reached a stream in 100-300 ms
--     under load (bench/RESULTS.md, sse_changes);
--   * events_prune's DELETE joined the batch's keys against the table by a
--     sequential scan: a full pass for every 500 rows pruned (1 800 rows/s,
--     and two thirds of task_create's rate, on 2 cores).
-- Both now walk events_id_idx from where they start. And a read waits (reads
-- again shortly) only for newer events that one of its streams would get:
-- another user's write still running needs no second read here, since its
-- commit wakes the streams of its user anyway.

CREATE OR REPLACE FUNCTION events_fetch(p_after bigint, p_users bigint[], p_kinds text[], p_limit int)
RETURNS TABLE (user_id bigint, id bigint, kind text, body text)
LANGUAGE plpgsql STABLE AS $$
DECLARE upto bigint := greatest(events_settled_id(), p_after); n int := 0; r record;
BEGIN
    FOR r IN
        SELECT e.user_id, e.id, e.kind, events_data(e) AS data FROM events e
         WHERE e.id > p_after AND e.id <= upto AND e.user_id = ANY (p_users) AND e.kind = ANY (p_kinds)
         ORDER BY e.id LIMIT p_limit
    LOOP
        n := n + 1;
        id := r.id;
        IF r.data IS NOT NULL THEN
            user_id := r.user_id;
            kind := r.kind;
            body := r.data;
            RETURN NEXT;
        END IF;
    END LOOP;
    user_id := NULL;
    body := NULL;
    IF n = p_limit THEN
        kind := 'more';
    ELSE
        id := upto;
        kind := CASE WHEN (SELECT e.id FROM events e WHERE e.id > upto AND e.user_id = ANY (p_users)
                              AND e.kind = ANY (p_kinds) ORDER BY e.id LIMIT 1) IS NOT NULL
                     THEN 'wait' ELSE 'done' END;
    END IF;
    RETURN NEXT;
END $$;

-- As 0015's, deleting by the id range it found: every row from the oldest id
-- to `bound` is among the oldest p_batch (but for the two rows of a message
-- split by the LIMIT: at most one more). Both ends are given: a generic plan
-- guesses a one-sided range at a third of the table and scans it all.
CREATE OR REPLACE FUNCTION events_prune(p_retention_ms bigint, p_batch int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE first bigint; bound bigint; n int;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('events_prune')) THEN
        RETURN 0;
    END IF;
    -- the oldest rows, up to the first one still young enough to keep
    WITH oldest AS (SELECT e.id, e.created_at FROM events e ORDER BY e.id LIMIT p_batch)
    SELECT min(o.id), CASE WHEN bool_and(o.created_at < now() - p_retention_ms * interval '1 millisecond') THEN max(o.id)
                ELSE min(o.id) FILTER (WHERE o.created_at >= now() - p_retention_ms * interval '1 millisecond') - 1
           END INTO first, bound FROM oldest o;
    IF bound IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM events e WHERE e.id >= first AND e.id <= bound;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE events_horizon SET pruned_through = greatest(pruned_through, bound);
    RETURN n;
END $$;
