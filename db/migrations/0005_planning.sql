-- Planning tools: each table is one resource of res_planning.c.
--
-- Conventions the resource engine relies on (res_engine.c):
--   * every row has id, user_id, created_at, updated_at;
--   * the primary key is (user_id, id): every statement is scoped by its owner,
--     and with no index on id alone a generic plan cannot walk the whole table
--     in id order filtering other users' rows out (it did, for a user whose rows
--     are the newest);
--   * a reference is a composite foreign key (user_id, ref_id) to that key, so a
--     row can never point at another user's row, even in a race, and the
--     database says which field was wrong;
--   * constraint names say which field they guard and how:
--       <table>_<field>_ref     a reference      (23503 -> 422 not_found on the field)
--       <table>_<field>_unique  unique per user  (23505 -> 409 on the field)
--       <table>_<field>_range   end >= start     (23514 -> 422 invalid_range on the field)
--   * cascades and SET NULL live here, not in C; the indexes that serve them
--     (and the filters) skip rows without a reference, so creating a task
--     without a list or a category updates no index for them.
-- Bounds and choices are checked in C first (with every error in one answer);
-- the CHECKs here only keep the data sound.

CREATE TABLE lists (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id)
);

CREATE TABLE categories (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    name       text        NOT NULL,
    color      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT categories_name_unique UNIQUE (user_id, name)
);

CREATE TABLE tasks (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    user_id     bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    title       text        NOT NULL,
    description text,
    status      text        NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'in_progress', 'done')),
    priority    int         NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3),
    due_date    date,
    list_id     bigint,
    category_id bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT tasks_list_id_ref FOREIGN KEY (user_id, list_id)
        REFERENCES lists (user_id, id) ON DELETE CASCADE,
    CONSTRAINT tasks_category_id_ref FOREIGN KEY (user_id, category_id)
        REFERENCES categories (user_id, id) ON DELETE SET NULL (category_id)
);
CREATE INDEX tasks_list_idx ON tasks (user_id, list_id) WHERE list_id IS NOT NULL;
CREATE INDEX tasks_category_idx ON tasks (user_id, category_id) WHERE category_id IS NOT NULL;

CREATE TABLE balance_wheel (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    sphere     text        NOT NULL,
    value      int         NOT NULL CHECK (value BETWEEN 0 AND 10),
    color      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT balance_wheel_sphere_unique UNIQUE (user_id, sphere)
);

CREATE TABLE kanban_columns (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    title      text        NOT NULL,
    position   int         NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT kanban_columns_title_unique UNIQUE (user_id, title)
);

CREATE TABLE kanban_cards (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    user_id     bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    column_id   bigint      NOT NULL,
    title       text        NOT NULL,
    description text,
    position    int         NOT NULL DEFAULT 0,
    color       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT kanban_cards_column_id_ref FOREIGN KEY (user_id, column_id)
        REFERENCES kanban_columns (user_id, id) ON DELETE CASCADE
);
CREATE INDEX kanban_cards_column_idx ON kanban_cards (column_id);

CREATE TABLE kanban_items (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    card_id    bigint      NOT NULL,
    text       text        NOT NULL,
    done       boolean     NOT NULL DEFAULT false,
    position   int         NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT kanban_items_card_id_ref FOREIGN KEY (user_id, card_id)
        REFERENCES kanban_cards (user_id, id) ON DELETE CASCADE
);
CREATE INDEX kanban_items_card_idx ON kanban_items (card_id, id);

CREATE TABLE gantt_tasks (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    user_id     bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    title       text        NOT NULL,
    description text,
    color       text,
    progress    int         NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id)
);

CREATE TABLE gantt_durations (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    task_id    bigint      NOT NULL,
    start_date date        NOT NULL,
    end_date   date        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT gantt_durations_task_id_ref FOREIGN KEY (user_id, task_id)
        REFERENCES gantt_tasks (user_id, id) ON DELETE CASCADE,
    CONSTRAINT gantt_durations_end_date_range CHECK (end_date >= start_date)
);
CREATE INDEX gantt_durations_task_idx ON gantt_durations (task_id, id);

CREATE TABLE planner_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    title      text        NOT NULL,
    start      timestamptz NOT NULL,
    "end"      timestamptz NOT NULL,
    color      text,
    done       boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT planner_entries_end_range CHECK ("end" >= start)
);

CREATE TABLE pomodoro_presets (
    id                  bigint GENERATED ALWAYS AS IDENTITY,
    user_id             bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    name                text        NOT NULL,
    work_minutes        int         NOT NULL DEFAULT 25 CHECK (work_minutes BETWEEN 1 AND 600),
    short_break_minutes int         NOT NULL DEFAULT 5 CHECK (short_break_minutes BETWEEN 1 AND 600),
    long_break_minutes  int         NOT NULL DEFAULT 15 CHECK (long_break_minutes BETWEEN 1 AND 600),
    cycles              int         NOT NULL DEFAULT 4 CHECK (cycles BETWEEN 1 AND 600),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id)
);

CREATE TABLE pomodoros (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    user_id         bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    kind            text        NOT NULL DEFAULT 'focus' CHECK (kind IN ('focus', 'short_break', 'long_break')),
    started_at      timestamptz NOT NULL,
    planned_seconds int         NOT NULL DEFAULT 1500 CHECK (planned_seconds BETWEEN 1 AND 86400),
    ended_at        timestamptz,
    completed       boolean     NOT NULL DEFAULT false,
    category_id     bigint,
    task_id         bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT pomodoros_category_id_ref FOREIGN KEY (user_id, category_id)
        REFERENCES categories (user_id, id) ON DELETE SET NULL (category_id),
    CONSTRAINT pomodoros_task_id_ref FOREIGN KEY (user_id, task_id)
        REFERENCES tasks (user_id, id) ON DELETE SET NULL (task_id),
    CONSTRAINT pomodoros_ended_at_range CHECK (ended_at >= started_at)
);
CREATE INDEX pomodoros_user_started_idx ON pomodoros (user_id, started_at);
CREATE INDEX pomodoros_category_idx ON pomodoros (user_id, category_id) WHERE category_id IS NOT NULL;
CREATE INDEX pomodoros_task_idx ON pomodoros (user_id, task_id) WHERE task_id IS NOT NULL;
