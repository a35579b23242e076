#ifndef HOURGLASS_EMBED_H
#define HOURGLASS_EMBED_H
#include <stddef.h>

/* A file compiled into the binary by scripts/embed.py. */
typedef struct {
    const char *name;
    size_t len;
    const char *data;
} embedded_file_t;

extern const embedded_file_t db_migrations[];
extern const size_t db_migrations_count;
/* Swagger UI and ReDoc from npm (scripts/assets.sh), served by api_docs.c. */
extern const embedded_file_t docs_assets[];
extern const size_t docs_assets_count;
/* The OpenAPI document's data (the JSON files of docs/openapi), read by openapi.c. */
extern const embedded_file_t openapi_data[];
extern const size_t openapi_data_count;
/* docs/problems.json: the status reasons and problem texts, read by http_problem.c. */
extern const embedded_file_t problem_texts[];

#endif
