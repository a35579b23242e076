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
    .name = "List", .table = "lists", .tag = "lists", .collection = API "/lists", .item = API "/lists/{id}",
    .route_flags = ROUTE_AUTH, .fields = list_fields, .field_count = ARRAY_LEN(list_fields),
    .summary = "named to-do lists",
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
    .name = "Task", .table = "tasks", .tag = "tasks", .collection = API "/tasks", .item = API "/tasks/{id}",
    .route_flags = ROUTE_AUTH, .fields = task_fields, .field_count = ARRAY_LEN(task_fields), .filters = task_filters,
    .filter_count = ARRAY_LEN(task_filters), .summary = "tasks",
};

static const res_field_t wheel_fields[] = {
    {.f = {"sphere", FIELD_STRING, FIELD_REQUIRED, 1, 100, NULL}, .unique = 1},
    {.f = {"value", FIELD_INT, FIELD_REQUIRED, 0, 10, NULL}},
    COLOR,
};
static const resource_t res_wheel = {
    .name = "BalanceSphere", .table = "balance_wheel", .tag = "balance wheel", .collection = API "/balance-wheel",
    .item = API "/balance-wheel/{id}", .route_flags = ROUTE_AUTH, .fields = wheel_fields,
    .field_count = ARRAY_LEN(wheel_fields), .summary = "spheres of the life balance wheel",
};

static const res_field_t column_fields[] = {
    {.f = {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL}, .unique = 1},
    POSITION,
};
static const resource_t res_columns = {
    .name = "KanbanColumn", .table = "kanban_columns", .tag = "kanban", .collection = API "/kanban/columns",
    .item = API "/kanban/columns/{id}", .route_flags = ROUTE_AUTH, .fields = column_fields,
    .field_count = ARRAY_LEN(column_fields), .summary = "kanban board columns (card types)",
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
    .name = "KanbanCard", .table = "kanban_cards", .tag = "kanban", .collection = API "/kanban/cards",
    .item = API "/kanban/cards/{id}", .route_flags = ROUTE_AUTH, .fields = card_fields,
    .field_count = ARRAY_LEN(card_fields), .filters = card_filters, .filter_count = ARRAY_LEN(card_filters),
    .summary = "cards on the kanban board",
};

static const res_field_t item_fields[] = {
    TEXT("text", FIELD_REQUIRED, 1, 2000),
    {.f = {"done", FIELD_BOOL, 0, 0, 0, NULL}, .def = "false"},
    POSITION,
};
static const resource_t res_items = {
    .name = "KanbanItem", .table = "kanban_items", .tag = "kanban", .collection = API "/kanban/cards/{card_id}/items",
    .item = API "/kanban/items/{id}", .parent_param = "card_id", .parent_table = "kanban_cards",
    .route_flags = ROUTE_AUTH, .fields = item_fields, .field_count = ARRAY_LEN(item_fields),
    .summary = "a card's checklist items",
};

static const res_field_t gantt_fields[] = {
    TEXT("title", FIELD_REQUIRED, 1, 200),
    TEXT("description", 0, 0, 10000),
    COLOR,
    {.f = {"progress", FIELD_INT, 0, 0, 100, NULL}, .def = "0"},
};
static const resource_t res_gantt = {
    .name = "GanttTask", .table = "gantt_tasks", .tag = "gantt", .collection = API "/gantt/tasks",
    .item = API "/gantt/tasks/{id}", .route_flags = ROUTE_AUTH, .fields = gantt_fields,
    .field_count = ARRAY_LEN(gantt_fields), .summary = "Gantt chart tasks",
};

static const res_field_t duration_fields[] = {
    {.f = {"start_date", FIELD_DATE, FIELD_REQUIRED, 0, 0, NULL}},
    {.f = {"end_date", FIELD_DATE, FIELD_REQUIRED, 0, 0, NULL}, .after = "start_date"},
};
static const resource_t res_durations = {
    .name = "GanttDuration", .table = "gantt_durations", .tag = "gantt",
    .collection = API "/gantt/tasks/{task_id}/durations", .item = API "/gantt/durations/{id}",
    .parent_param = "task_id", .parent_table = "gantt_tasks", .route_flags = ROUTE_AUTH, .fields = duration_fields,
    .field_count = ARRAY_LEN(duration_fields), .summary = "a Gantt task's date ranges",
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
    .name = "PlannerEntry", .table = "planner_entries", .tag = "planner", .collection = API "/planner/entries",
    .item = API "/planner/entries/{id}", .route_flags = ROUTE_AUTH, .fields = planner_fields,
    .field_count = ARRAY_LEN(planner_fields), .filters = planner_filters, .filter_count = ARRAY_LEN(planner_filters),
    .summary = "daily planner entries",
};

static const res_field_t category_fields[] = {
    {.f = {"name", FIELD_STRING, FIELD_REQUIRED, 1, 100, NULL}, .unique = 1},
    COLOR,
};
static const resource_t res_categories = {
    .name = "Category", .table = "categories", .tag = "categories", .collection = API "/categories",
    .item = API "/categories/{id}", .route_flags = ROUTE_AUTH, .fields = category_fields,
    .field_count = ARRAY_LEN(category_fields), .summary = "categories of tasks and pomodoros",
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
    .name = "PomodoroPreset", .table = "pomodoro_presets", .tag = "pomodoro", .collection = API "/pomodoro/presets",
    .item = API "/pomodoro/presets/{id}", .route_flags = ROUTE_AUTH, .fields = preset_fields,
    .field_count = ARRAY_LEN(preset_fields), .summary = "pomodoro timer settings",
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
    .name = "Pomodoro", .table = "pomodoros", .tag = "pomodoro", .collection = API "/pomodoros",
    .item = API "/pomodoros/{id}", .route_flags = ROUTE_AUTH, .fields = pomodoro_fields,
    .field_count = ARRAY_LEN(pomodoro_fields), .filters = pomodoro_filters, .filter_count = ARRAY_LEN(pomodoro_filters),
    .summary = "pomodoro timer sessions",
};

static const resource_t *const resources[] = {
    &res_lists,   &res_tasks,   &res_wheel,      &res_columns, &res_cards,    &res_items,
    &res_gantt,   &res_durations, &res_planner, &res_categories, &res_presets, &res_pomodoros,
};

const resource_t *planning_resource(const char *name)
{
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
