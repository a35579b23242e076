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

/* Shorthands for the fields that many planning resources share (resource.h has the engine's). */
#define COLOR {.f = {.name = "color", .type = FIELD_COLOR}, .doc = "#rrggbb"}
#define POSITION {.f = {.name = "position", .type = FIELD_INT, .min = POS_MIN, .max = POS_MAX}, .def = "0"}

static const char *const task_statuses[] = {"todo", "in_progress", "done", NULL};
static const char *const pomodoro_kinds[] = {"focus", "short_break", "long_break", NULL};

static const res_field_t list_fields[] = {
    RES_TEXT("name", FIELD_REQUIRED, 1, 200),
};

static const res_field_t task_fields[] = {
    RES_TEXT("title", FIELD_REQUIRED, 1, 200),
    RES_TEXT("description", 0, 0, 10000),
    {.f = {.name = "status", .type = FIELD_ENUM, .choices = task_statuses}, .def = "todo"},
    {.f = {.name = "priority", .type = FIELD_INT, .max = 3}, .def = "0"},
    {.f = {.name = "due_date", .type = FIELD_DATE}},
    RES_REF("list_id", 0, "lists"),
    RES_REF("category_id", 0, "categories"),
};
static const res_filter_t task_filters[] = {
    {.param = "status", .kind = FILTER_EQ, .type = FIELD_ENUM, .column = "status", .choices = task_statuses},
    {.param = "list_id", .kind = FILTER_EQ, .type = FIELD_ID, .column = "list_id"},
    {.param = "due_before", .kind = FILTER_DATE_LE, .type = FIELD_DATE, .column = "due_date"},
    {.param = "due_after", .kind = FILTER_DATE_GE, .type = FIELD_DATE, .column = "due_date"},
    {.param = "q", .kind = FILTER_SEARCH, .type = FIELD_STRING, .column = "title", .column2 = "description"},
};

static const res_field_t wheel_fields[] = {
    {.f = {.name = "sphere", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 100}, .unique = 1},
    {.f = {.name = "value", .type = FIELD_INT, .flags = FIELD_REQUIRED, .max = 10}},
    COLOR,
};

static const res_field_t column_fields[] = {
    {.f = {.name = "title", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 200}, .unique = 1},
    POSITION,
};

static const res_field_t card_fields[] = {
    RES_REF("column_id", FIELD_REQUIRED, "kanban_columns"),
    RES_TEXT("title", FIELD_REQUIRED, 1, 200),
    RES_TEXT("description", 0, 0, 10000),
    POSITION,
    COLOR,
};
static const res_filter_t card_filters[] = {
    {.param = "column_id", .kind = FILTER_EQ, .type = FIELD_ID, .column = "column_id"},
};

static const res_field_t item_fields[] = {
    RES_TEXT("text", FIELD_REQUIRED, 1, 2000),
    RES_FLAG("done", "false"),
    POSITION,
};

static const res_field_t gantt_fields[] = {
    RES_TEXT("title", FIELD_REQUIRED, 1, 200),
    RES_TEXT("description", 0, 0, 10000),
    COLOR,
    {.f = {.name = "progress", .type = FIELD_INT, .max = 100}, .def = "0"},
};

static const res_field_t duration_fields[] = {
    {.f = {.name = "start_date", .type = FIELD_DATE, .flags = FIELD_REQUIRED}},
    {.f = {.name = "end_date", .type = FIELD_DATE, .flags = FIELD_REQUIRED}, .after = "start_date"},
};

static const res_field_t planner_fields[] = {
    RES_TEXT("title", FIELD_REQUIRED, 1, 2000),
    {.f = {.name = "start", .type = FIELD_DATETIME, .flags = FIELD_REQUIRED}},
    {.f = {.name = "end", .type = FIELD_DATETIME, .flags = FIELD_REQUIRED}, .after = "start"},
    COLOR,
    RES_FLAG("done", "false"),
};
static const res_filter_t planner_filters[] = {
    /* entries overlapping [from, to], whole UTC days */
    {.param = "from", .kind = FILTER_TIME_FROM, .type = FIELD_DATE, .column = "end"},
    {.param = "to", .kind = FILTER_TIME_TO, .type = FIELD_DATE, .column = "start"},
};

static const res_field_t category_fields[] = {
    {.f = {.name = "name", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 100}, .unique = 1},
    COLOR,
};

#define MINUTES(field, dflt) \
    {.f = {.name = field, .type = FIELD_INT, .min = 1, .max = 600}, .def = dflt, .doc = "minutes"}
static const res_field_t preset_fields[] = {
    RES_TEXT("name", FIELD_REQUIRED, 1, 100),
    MINUTES("work_minutes", "25"),
    MINUTES("short_break_minutes", "5"),
    MINUTES("long_break_minutes", "15"),
    {.f = {.name = "cycles", .type = FIELD_INT, .min = 1, .max = 600}, .def = "4"},
};

static const res_field_t pomodoro_fields[] = {
    {.f = {.name = "kind", .type = FIELD_ENUM, .choices = pomodoro_kinds}, .def = "focus"},
    {.f = {.name = "started_at", .type = FIELD_DATETIME, .flags = FIELD_REQUIRED}},
    {.f = {.name = "planned_seconds", .type = FIELD_INT, .min = 1, .max = 86400}, .def = "1500"},
    {.f = {.name = "ended_at", .type = FIELD_DATETIME}, .after = "started_at"},
    RES_FLAG("completed", "false"),
    RES_REF("category_id", 0, "categories"),
    RES_REF("task_id", 0, "tasks"),
};
static const res_filter_t pomodoro_filters[] = {
    {.param = "from", .kind = FILTER_TIME_FROM, .type = FIELD_DATE, .column = "started_at"},
    {.param = "to", .kind = FILTER_TIME_TO, .type = FIELD_DATE, .column = "started_at"},
    {.param = "category_id", .kind = FILTER_EQ, .type = FIELD_ID, .column = "category_id"},
};

static const resource_t resources[] = {
    {.name = "List", .table = "lists", .tag = "lists", .collection = API "/lists", .item = API "/lists/{id}",
     .route_flags = ROUTE_AUTH, RES_FIELDS(list_fields), .summary = "named to-do lists"},
    {.name = "Task", .table = "tasks", .tag = "tasks", .collection = API "/tasks", .item = API "/tasks/{id}",
     .route_flags = ROUTE_AUTH, RES_FIELDS(task_fields), RES_FILTERS(task_filters), .summary = "tasks"},
    {.name = "BalanceSphere", .table = "balance_wheel", .tag = "balance wheel", .collection = API "/balance-wheel",
     .item = API "/balance-wheel/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(wheel_fields),
     .summary = "spheres of the life balance wheel"},
    {.name = "KanbanColumn", .table = "kanban_columns", .tag = "kanban", .collection = API "/kanban/columns",
     .item = API "/kanban/columns/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(column_fields),
     .summary = "kanban board columns (card types)"},
    {.name = "KanbanCard", .table = "kanban_cards", .tag = "kanban", .collection = API "/kanban/cards",
     .item = API "/kanban/cards/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(card_fields), RES_FILTERS(card_filters),
     .summary = "cards on the kanban board"},
    {.name = "KanbanItem", .table = "kanban_items", .tag = "kanban",
     .collection = API "/kanban/cards/{card_id}/items", .item = API "/kanban/items/{id}", .parent_param = "card_id",
     .parent_table = "kanban_cards", .route_flags = ROUTE_AUTH, RES_FIELDS(item_fields),
     .summary = "a card's checklist items"},
    {.name = "GanttTask", .table = "gantt_tasks", .tag = "gantt", .collection = API "/gantt/tasks",
     .item = API "/gantt/tasks/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(gantt_fields),
     .summary = "Gantt chart tasks"},
    {.name = "GanttDuration", .table = "gantt_durations", .tag = "gantt",
     .collection = API "/gantt/tasks/{task_id}/durations", .item = API "/gantt/durations/{id}",
     .parent_param = "task_id", .parent_table = "gantt_tasks", .route_flags = ROUTE_AUTH,
     RES_FIELDS(duration_fields), .summary = "a Gantt task's date ranges"},
    {.name = "PlannerEntry", .table = "planner_entries", .tag = "planner", .collection = API "/planner/entries",
     .item = API "/planner/entries/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(planner_fields),
     RES_FILTERS(planner_filters), .summary = "daily planner entries"},
    {.name = "Category", .table = "categories", .tag = "categories", .collection = API "/categories",
     .item = API "/categories/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(category_fields),
     .summary = "categories of tasks and pomodoros"},
    {.name = "PomodoroPreset", .table = "pomodoro_presets", .tag = "pomodoro", .collection = API "/pomodoro/presets",
     .item = API "/pomodoro/presets/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(preset_fields),
     .summary = "pomodoro timer settings"},
    {.name = "Pomodoro", .table = "pomodoros", .tag = "pomodoro", .collection = API "/pomodoros",
     .item = API "/pomodoros/{id}", .route_flags = ROUTE_AUTH, RES_FIELDS(pomodoro_fields),
     RES_FILTERS(pomodoro_filters), .summary = "pomodoro timer sessions"},
};

const resource_t *planning_resource(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(resources); i++)
        if (!strcmp(resources[i].name, name))
            return &resources[i];
    return NULL;
}

static api_route_t planning_routes[RES_ROUTES_MAX * ARRAY_LEN(resources)];

static void planning_register(void)
{
    for (size_t i = 0; i < ARRAY_LEN(resources); i++)
        res_register(&resources[i], &planning_routes[RES_ROUTES_MAX * i]);
}

const api_module_t api_planning_module = {
    .name = "planning", .routes = planning_routes, .route_count = ARRAY_LEN(planning_routes),
    .register_statements = planning_register,
};
