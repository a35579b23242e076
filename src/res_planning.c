/* The planning tools of API.md, each one a declaration for the resource
 * engine (res_engine.c) over its table in 0005_planning.sql. A new plain
 * resource is a declaration here and a migration, nothing else. */
#include <string.h>

#include "hourglass/api.h"
#include "hourglass/resource.h"

#define API "/api/v1"

/* Positions and other small orderings: any int that fits a column. */
#define POS_MIN (-1000000000LL)
#define POS_MAX 1000000000LL

/* Shorthands for the fields that many resources share. */
#define TEXT(name, flags, min, max) {.f = {name, FIELD_STRING, flags, min, max, NULL}}
#define COLOR {.f = {"color", FIELD_COLOR, 0, 0, 0, NULL}, .doc = "#rrggbb"}
#define POSITION {.f = {"position", FIELD_INT, 0, POS_MIN, POS_MAX, NULL}, .def = "0"}
#define REF(name, flags, table) {.f = {name, FIELD_ID, flags, 0, 0, NULL}, .ref = table}

static const char *const task_statuses[] = {"todo", "in_progress", "done", NULL};
static const char *const pomodoro_kinds[] = {"focus", "short_break", "long_break", NULL};

static const res_field_t list_fields[] = {
    TEXT("name", FIELD_REQUIRED, 1, 200),
};
static const resource_t res_lists = {
    "List", "lists", "lists", API "/lists", API "/lists/{id}", NULL, NULL, 0, ROUTE_AUTH,
    list_fields, ARRAY_LEN(list_fields), NULL, 0, "named to-do lists",
};

static const res_field_t task_fields[] = {
    TEXT("title", FIELD_REQUIRED, 1, 200),
    TEXT("description", 0, 0, 10000),
    {.f = {"status", FIELD_ENUM, 0, 0, 0, task_statuses}, .def = "todo"},
    {.f = {"priority", FIELD_INT, 0, 0, 3, NULL}, .def = "0"},
    {.f = {"due_date", FIELD_DATE, 0, 0, 0, NULL}},
    REF("list_id", 0, "lists"),
    REF("category_id", 0, "categories"),
};
static const res_filter_t task_filters[] = {
    {"status", FILTER_EQ, FIELD_ENUM, "status", NULL, task_statuses},
    {"list_id", FILTER_EQ, FIELD_ID, "list_id", NULL, NULL},
    {"due_before", FILTER_DATE_LE, FIELD_DATE, "due_date", NULL, NULL},
    {"due_after", FILTER_DATE_GE, FIELD_DATE, "due_date", NULL, NULL},
    {"q", FILTER_SEARCH, FIELD_STRING, "title", "description", NULL},
};
static const resource_t res_tasks = {
    "Task", "tasks", "tasks", API "/tasks", API "/tasks/{id}", NULL, NULL, 0, ROUTE_AUTH,
    task_fields, ARRAY_LEN(task_fields), task_filters, ARRAY_LEN(task_filters), "tasks",
};

/* The balance wheel's fields, valued 0..max_value. */
#define WHEEL_FIELDS(max_value)                                                   \
    {.f = {"sphere", FIELD_STRING, FIELD_REQUIRED, 1, 100, NULL}, .unique = 1}, \
        {.f = {"value", FIELD_INT, FIELD_REQUIRED, 0, max_value, NULL}}, COLOR
static const res_field_t wheel_fields[] = {WHEEL_FIELDS(10)};
static const resource_t res_wheel = {
    "BalanceSphere", "balance_wheel", "balance wheel", API "/balance-wheel", API "/balance-wheel/{id}", NULL, NULL, 0,
    ROUTE_AUTH, wheel_fields, ARRAY_LEN(wheel_fields), NULL, 0, "spheres of the life balance wheel",
};

static const res_field_t column_fields[] = {
    {.f = {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL}, .unique = 1},
    POSITION,
};
static const resource_t res_columns = {
    "KanbanColumn", "kanban_columns", "kanban", API "/kanban/columns", API "/kanban/columns/{id}", NULL, NULL, 0,
    ROUTE_AUTH, column_fields, ARRAY_LEN(column_fields), NULL, 0, "kanban board columns (card types)",
};

static const res_field_t card_fields[] = {
    REF("column_id", FIELD_REQUIRED, "kanban_columns"),
    TEXT("title", FIELD_REQUIRED, 1, 200),
    TEXT("description", 0, 0, 10000),
    POSITION,
    COLOR,
};
static const res_filter_t card_filters[] = {
    {"column_id", FILTER_EQ, FIELD_ID, "column_id", NULL, NULL},
};
static const resource_t res_cards = {
    "KanbanCard", "kanban_cards", "kanban", API "/kanban/cards", API "/kanban/cards/{id}", NULL, NULL, 0, ROUTE_AUTH,
    card_fields, ARRAY_LEN(card_fields), card_filters, ARRAY_LEN(card_filters), "cards on the kanban board",
};

static const res_field_t item_fields[] = {
    TEXT("text", FIELD_REQUIRED, 1, 2000),
    {.f = {"done", FIELD_BOOL, 0, 0, 0, NULL}, .def = "false"},
    POSITION,
};
static const resource_t res_items = {
    "KanbanItem", "kanban_items", "kanban", API "/kanban/cards/{card_id}/items", API "/kanban/items/{id}", "card_id",
    "kanban_cards", 0, ROUTE_AUTH, item_fields, ARRAY_LEN(item_fields), NULL, 0, "a card's checklist items",
};

static const res_field_t gantt_fields[] = {
    TEXT("title", FIELD_REQUIRED, 1, 200),
    TEXT("description", 0, 0, 10000),
    COLOR,
    {.f = {"progress", FIELD_INT, 0, 0, 100, NULL}, .def = "0"},
};
static const resource_t res_gantt = {
    "GanttTask", "gantt_tasks", "gantt", API "/gantt/tasks", API "/gantt/tasks/{id}", NULL, NULL, 0, ROUTE_AUTH,
    gantt_fields, ARRAY_LEN(gantt_fields), NULL, 0, "Gantt chart tasks",
};

static const res_field_t duration_fields[] = {
    {.f = {"start_date", FIELD_DATE, FIELD_REQUIRED, 0, 0, NULL}},
    {.f = {"end_date", FIELD_DATE, FIELD_REQUIRED, 0, 0, NULL}, .after = "start_date"},
};
static const resource_t res_durations = {
    "GanttDuration", "gantt_durations", "gantt", API "/gantt/tasks/{task_id}/durations", API "/gantt/durations/{id}",
    "task_id", "gantt_tasks", 0, ROUTE_AUTH, duration_fields, ARRAY_LEN(duration_fields), NULL, 0,
    "a Gantt task's date ranges",
};

static const res_field_t planner_fields[] = {
    TEXT("title", FIELD_REQUIRED, 1, 2000),
    {.f = {"start", FIELD_DATETIME, FIELD_REQUIRED, 0, 0, NULL}},
    {.f = {"end", FIELD_DATETIME, FIELD_REQUIRED, 0, 0, NULL}, .after = "start"},
    COLOR,
    {.f = {"done", FIELD_BOOL, 0, 0, 0, NULL}, .def = "false"},
};
static const res_filter_t planner_filters[] = {
    /* entries overlapping [from, to], whole UTC days */
    {"from", FILTER_TIME_FROM, FIELD_DATE, "end", NULL, NULL},
    {"to", FILTER_TIME_TO, FIELD_DATE, "start", NULL, NULL},
};
static const resource_t res_planner = {
    "PlannerEntry", "planner_entries", "planner", API "/planner/entries", API "/planner/entries/{id}", NULL, NULL, 0,
    ROUTE_AUTH, planner_fields, ARRAY_LEN(planner_fields), planner_filters, ARRAY_LEN(planner_filters), "daily planner entries",
};

static const res_field_t category_fields[] = {
    {.f = {"name", FIELD_STRING, FIELD_REQUIRED, 1, 100, NULL}, .unique = 1},
    COLOR,
};
static const resource_t res_categories = {
    "Category", "categories", "categories", API "/categories", API "/categories/{id}", NULL, NULL, 0, ROUTE_AUTH,
    category_fields, ARRAY_LEN(category_fields), NULL, 0, "categories of tasks and pomodoros",
};

#define MINUTES(name, dflt) {.f = {name, FIELD_INT, 0, 1, 600, NULL}, .def = dflt, .doc = "minutes"}
static const res_field_t preset_fields[] = {
    TEXT("name", FIELD_REQUIRED, 1, 100),
    MINUTES("work_minutes", "25"),
    MINUTES("short_break_minutes", "5"),
    MINUTES("long_break_minutes", "15"),
    {.f = {"cycles", FIELD_INT, 0, 1, 600, NULL}, .def = "4"},
};
static const resource_t res_presets = {
    "PomodoroPreset", "pomodoro_presets", "pomodoro", API "/pomodoro/presets", API "/pomodoro/presets/{id}", NULL,
    NULL, 0, ROUTE_AUTH, preset_fields, ARRAY_LEN(preset_fields), NULL, 0, "pomodoro timer settings",
};

static const res_field_t pomodoro_fields[] = {
    {.f = {"kind", FIELD_ENUM, 0, 0, 0, pomodoro_kinds}, .def = "focus"},
    {.f = {"started_at", FIELD_DATETIME, FIELD_REQUIRED, 0, 0, NULL}},
    {.f = {"planned_seconds", FIELD_INT, 0, 1, 86400, NULL}, .def = "1500"},
    {.f = {"ended_at", FIELD_DATETIME, 0, 0, 0, NULL}, .after = "started_at"},
    {.f = {"completed", FIELD_BOOL, 0, 0, 0, NULL}, .def = "false"},
    REF("category_id", 0, "categories"),
    REF("task_id", 0, "tasks"),
};
static const res_filter_t pomodoro_filters[] = {
    {"from", FILTER_TIME_FROM, FIELD_DATE, "started_at", NULL, NULL},
    {"to", FILTER_TIME_TO, FIELD_DATE, "started_at", NULL, NULL},
    {"category_id", FILTER_EQ, FIELD_ID, "category_id", NULL, NULL},
};
static const resource_t res_pomodoros = {
    "Pomodoro", "pomodoros", "pomodoro", API "/pomodoros", API "/pomodoros/{id}", NULL, NULL, 0, ROUTE_AUTH,
    pomodoro_fields, ARRAY_LEN(pomodoro_fields), pomodoro_filters, ARRAY_LEN(pomodoro_filters), "pomodoro timer sessions",
};

/* Seed 000's balance wheel counts 0..100 (api_compat.c): the same table
 * and fields, registered only when COMPAT_SEED000 is on. */
static const res_field_t wheel_percent_fields[] = {WHEEL_FIELDS(100)};
static const resource_t res_wheel_percent = {
    "BalanceSpherePercent", "balance_wheel", "seed-000 compatibility", API "/balance-wheel", API "/balance-wheel/{id}", NULL, NULL, 0,
    ROUTE_AUTH, wheel_percent_fields, ARRAY_LEN(wheel_percent_fields), NULL, 0,
    "spheres of the life balance wheel, valued 0..100",
};

static const resource_t *const resources[] = {
    &res_lists,   &res_tasks,   &res_wheel,      &res_columns, &res_cards,    &res_items,
    &res_gantt,   &res_durations, &res_planner, &res_categories, &res_presets, &res_pomodoros,
};

const resource_t *planning_resource(const char *name)
{
    if (!strcmp(name, res_wheel_percent.name))
        return &res_wheel_percent;
    for (size_t i = 0; i < ARRAY_LEN(resources); i++)
        if (!strcmp(resources[i]->name, name))
            return resources[i];
    return NULL;
}

static api_route_t planning_routes[RES_ROUTES_MAX * ARRAY_LEN(resources)];

static void planning_register(void)
{
    for (size_t i = 0; i < ARRAY_LEN(resources); i++)
        res_register(resources[i], &planning_routes[RES_ROUTES_MAX * i]);
}

const api_module_t api_planning_module = {
    .name = "planning", .routes = planning_routes, .route_count = ARRAY_LEN(planning_routes),
    .register_statements = planning_register,
};
