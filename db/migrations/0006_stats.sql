-- Statistics, achievements and the premium music of api_stats.c / api_music.c.
-- Each read is one function that answers the JSON text to send as it is.

-- GET /stats: completed focus pomodoros of p_from..p_to (dates in p_tz, both
-- inclusive), cut into periods of p_group ('day', 'week' from Monday, 'month')
-- in p_tz. A session counts in the period where it started; every period of
-- the range is present, the first one may begin before p_from (its start is
-- the calendar day / Monday / first of the month). Missing bounds make a
-- 7-day window: to = from + 6 days, else today in p_tz; from = to - 6 days.
-- Answers (error, body): error 'unknown_time_zone' for a zone PostgreSQL does
-- not know. The caller checks the range (at most 366 days, to >= from).
CREATE FUNCTION stats_json(p_user_id bigint, p_from date, p_to date, p_group text, p_tz text,
                           OUT error text, OUT body text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_from date;
    v_to date;
    v_step interval;
BEGIN
    BEGIN
        PERFORM now() AT TIME ZONE p_tz;
    EXCEPTION WHEN invalid_parameter_value THEN
        error := 'unknown_time_zone';
        RETURN;
    END;
    v_step := CASE p_group WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '1 week'
                           WHEN 'month' THEN interval '1 month' END;
    v_to := coalesce(p_to, p_from + 6, (now() AT TIME ZONE p_tz)::date);
    v_from := coalesce(p_from, v_to - 6);
    IF v_step IS NULL OR v_to < v_from OR v_to - v_from > 365 THEN
        RAISE EXCEPTION 'stats_json: bad arguments % % %', p_group, v_from, v_to;
    END IF;
    WITH sessions AS (
        SELECT date_trunc(p_group, p.started_at AT TIME ZONE p_tz)::date AS start, p.category_id,
               coalesce(floor(extract(epoch FROM p.ended_at - p.started_at)), 0)::bigint AS seconds
          FROM pomodoros p
         WHERE p.user_id = p_user_id AND p.kind = 'focus' AND p.completed
           AND p.started_at >= v_from::timestamp AT TIME ZONE p_tz
           AND p.started_at < (v_to + 1)::timestamp AT TIME ZONE p_tz),
    by_category AS (
        SELECT s.start, s.category_id, c.name, sum(s.seconds) AS seconds, count(*) AS sessions
          FROM sessions s LEFT JOIN categories c ON c.id = s.category_id
         GROUP BY s.start, s.category_id, c.name),
    filled AS (
        SELECT b.start, sum(b.seconds) AS seconds, sum(b.sessions) AS sessions,
               json_agg(json_build_object('category_id', b.category_id, 'name', b.name, 'focus_seconds', b.seconds)
                        ORDER BY b.category_id NULLS LAST) AS categories
          FROM by_category b GROUP BY b.start),
    periods AS (
        SELECT g::date AS start
          FROM generate_series(date_trunc(p_group, v_from::timestamp), v_to::timestamp, v_step) g)
    SELECT json_build_object(
        'from', v_from, 'to', v_to, 'group', p_group,
        'total_focus_seconds', (SELECT coalesce(sum(s.seconds), 0) FROM sessions s),
        'total_sessions', (SELECT count(*) FROM sessions),
        'periods', (SELECT json_agg(json_build_object(
                                'start', p.start, 'focus_seconds', coalesce(f.seconds, 0),
                                'sessions', coalesce(f.sessions, 0), 'by_category', coalesce(f.categories, '[]'))
                            ORDER BY p.start)
                      FROM periods p LEFT JOIN filled f ON f.start = p.start))::text
      INTO body;
END $$;

-- The catalogue: what each achievement measures (metric) and how much of it
-- unlocks it (goal). Seconds for focus time, days for the streak.
CREATE TABLE achievements (
    code           text PRIMARY KEY,
    position       int  NOT NULL,
    metric         text NOT NULL CHECK (metric IN ('focus_sessions', 'focus_seconds', 'focus_streak_days',
                                                   'tasks_done')),
    goal           bigint NOT NULL CHECK (goal > 0),
    title_en       text NOT NULL,
    title_ru       text NOT NULL,
    description_en text NOT NULL,
    description_ru text NOT NULL
);

INSERT INTO achievements VALUES
    ('first_focus', 1, 'focus_sessions', 1, 'First focus', 'Первый фокус',
     'Complete your first focus session.', 'Завершите первую фокус-сессию.'),
    ('focus_sessions_10', 2, 'focus_sessions', 10, 'Ten sessions', 'Десять сессий',
     'Complete 10 focus sessions.', 'Завершите 10 фокус-сессий.'),
    ('focus_hours_10', 3, 'focus_seconds', 36000, 'Ten hours of focus', 'Десять часов фокуса',
     'Spend 10 hours in completed focus sessions (progress in seconds).',
     'Проведите 10 часов в завершённых фокус-сессиях (прогресс в секундах).'),
    ('streak_7_days', 4, 'focus_streak_days', 7, 'A week in a row', 'Неделя подряд',
     'Complete a focus session on each of 7 consecutive days (UTC).',
     'Завершайте фокус-сессию 7 дней подряд (по UTC).'),
    ('tasks_done_100', 5, 'tasks_done', 100, 'A hundred tasks', 'Сто задач',
     'Mark 100 tasks done.', 'Отметьте 100 задач выполненными.');

-- When each user unlocked each achievement, written once, by the triggers below
-- in the transaction of the write that reached the goal.
CREATE TABLE user_achievements (
    user_id     bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    code        text        NOT NULL REFERENCES achievements,
    unlocked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, code)
);

-- The user's current value of every metric.
CREATE FUNCTION achievement_metrics(p_user_id bigint, OUT focus_sessions bigint, OUT focus_seconds bigint,
                                    OUT focus_streak_days bigint, OUT tasks_done bigint)
LANGUAGE sql STABLE AS $$
    WITH focus AS (
        SELECT p.started_at, coalesce(floor(extract(epoch FROM p.ended_at - p.started_at)), 0)::bigint AS seconds
          FROM pomodoros p WHERE p.user_id = p_user_id AND p.kind = 'focus' AND p.completed),
    days AS (SELECT DISTINCT (f.started_at AT TIME ZONE 'UTC')::date AS day FROM focus f),
    runs AS (SELECT count(*) AS n FROM (SELECT d.day - (row_number() OVER (ORDER BY d.day))::int AS run
                                          FROM days d) r GROUP BY r.run)
    SELECT (SELECT count(*) FROM focus), (SELECT coalesce(sum(seconds), 0) FROM focus)::bigint,
           (SELECT coalesce(max(n), 0) FROM runs),
           (SELECT count(*) FROM tasks t WHERE t.user_id = p_user_id AND t.status = 'done')
$$;

-- Records what the user has newly reached among the achievements measured by
-- p_metrics. A per-user lock makes concurrent writes count each other's rows
-- (each statement of the function sees what committed before it got the lock).
CREATE FUNCTION achievements_unlock(p_user_id bigint, p_metrics text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM achievements a WHERE a.metric = ANY (p_metrics)
                      AND NOT EXISTS (SELECT 1 FROM user_achievements u
                                       WHERE u.user_id = p_user_id AND u.code = a.code)) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(6, hashtext(p_user_id::text));
    SELECT * INTO m FROM achievement_metrics(p_user_id);
    INSERT INTO user_achievements (user_id, code)
    SELECT p_user_id, a.code FROM achievements a
     WHERE a.metric = ANY (p_metrics)
       AND CASE a.metric WHEN 'focus_sessions' THEN m.focus_sessions WHEN 'focus_seconds' THEN m.focus_seconds
                         WHEN 'focus_streak_days' THEN m.focus_streak_days WHEN 'tasks_done' THEN m.tasks_done
           END >= a.goal
    ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION pomodoros_achievements() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM achievements_unlock(NEW.user_id, '{focus_sessions,focus_seconds,focus_streak_days}');
    RETURN NULL;
END $$;

CREATE FUNCTION tasks_achievements() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM achievements_unlock(NEW.user_id, '{tasks_done}');
    RETURN NULL;
END $$;

-- Only writes that can reach a goal run the check: a completed focus session
-- (new, or changed in what it counts), a task that becomes done.
CREATE TRIGGER pomodoros_achievements_insert AFTER INSERT ON pomodoros
    FOR EACH ROW WHEN (NEW.kind = 'focus' AND NEW.completed)
    EXECUTE FUNCTION pomodoros_achievements();
CREATE TRIGGER pomodoros_achievements_update AFTER UPDATE ON pomodoros
    FOR EACH ROW WHEN (NEW.kind = 'focus' AND NEW.completed
                       AND (NOT OLD.completed OR OLD.kind <> 'focus' OR OLD.started_at <> NEW.started_at
                            OR OLD.ended_at IS DISTINCT FROM NEW.ended_at))
    EXECUTE FUNCTION pomodoros_achievements();
CREATE TRIGGER tasks_achievements_insert AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.status = 'done')
    EXECUTE FUNCTION tasks_achievements();
CREATE TRIGGER tasks_achievements_update AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN (NEW.status = 'done' AND OLD.status <> 'done')
    EXECUTE FUNCTION tasks_achievements();

-- GET /achievements: the whole catalogue as a bare array, in p_lang ('en' or
-- 'ru'). An unlocked achievement shows its goal as progress even if the rows
-- that earned it are gone since.
CREATE FUNCTION achievements_json(p_user_id bigint, p_lang text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
               'code', a.code,
               'title', CASE WHEN p_lang = 'ru' THEN a.title_ru ELSE a.title_en END,
               'description', CASE WHEN p_lang = 'ru' THEN a.description_ru ELSE a.description_en END,
               'unlocked_at', hg_time(u.unlocked_at),
               'progress', CASE WHEN u.unlocked_at IS NOT NULL THEN a.goal
                                ELSE least(a.goal, CASE a.metric WHEN 'focus_sessions' THEN m.focus_sessions
                                                                 WHEN 'focus_seconds' THEN m.focus_seconds
                                                                 WHEN 'focus_streak_days' THEN m.focus_streak_days
                                                                 WHEN 'tasks_done' THEN m.tasks_done END) END,
               'goal', a.goal) ORDER BY a.position), '[]')::text
      FROM achievements a
      CROSS JOIN achievement_metrics(p_user_id) m
      LEFT JOIN user_achievements u ON u.user_id = p_user_id AND u.code = a.code
$$;

-- Background tracks for premium users; a global resource of the engine
-- (api_music.c): no user_id, managed by admins.
CREATE TABLE music_tracks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title            text        NOT NULL,
    url              text        NOT NULL,
    duration_seconds int         CHECK (duration_seconds BETWEEN 1 AND 86400),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
