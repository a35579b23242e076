#ifndef HOURGLASS_API_H
#define HOURGLASS_API_H
#include <stddef.h>

#include "hourglass/http.h"
#include "hourglass/router.h"

/* A module of endpoints: its routes and the statements it prepares. */
typedef struct {
    const char *name;
    const http_route_t *routes;
    size_t route_count;
    void (*register_statements)(void);
} api_module_t;

extern const api_module_t api_ops_module;
extern const api_module_t api_accounts_module;
extern const api_module_t api_users_module;

/* Registers every module's statements and routes; NULL with err on a bad table. */
router_t *routes_build(char *err, size_t errlen);

#endif
