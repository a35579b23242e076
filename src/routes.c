/* Every module of endpoints the server has, in one list: a new module is
 * one line here. */
#include "hourglass/api.h"
#include "hourglass/app.h"
#include "hourglass/openapi.h"

static const api_module_t *const modules[] = {
    &api_ops_module,
    &api_accounts_module,
    &api_users_module,
    &api_planning_module,
    &api_stats_module,
    &api_music_module,
    &api_messages_module,
    &api_shop_module,
    &api_shop_catalogue_module,
    &api_shop_orders_module,
    &api_docs_module,
    &api_compat_module,
};

router_t *routes_build(int compat_seed000, char *err, size_t errlen)
{
    router_t *r = router_new();
    app_register_statements();
    const api_module_t *served[ARRAY_LEN(modules)];
    size_t count = 0;
    for (size_t m = 0; m < ARRAY_LEN(modules); m++)
        if (compat_seed000 || !modules[m]->seed000)
            served[count++] = modules[m];
    for (size_t m = 0; m < count; m++) {
        if (served[m]->register_statements)
            served[m]->register_statements();
        for (size_t i = 0; i < served[m]->route_count; i++) {
            if (router_add(r, &served[m]->routes[i].http, err, errlen)) {
                router_free(r);
                return NULL;
            }
        }
    }
    /* Last, when every route is known: each must be documented. */
    if (openapi_build(served, count, openapi_data, openapi_data_count, err, errlen)) {
        router_free(r);
        return NULL;
    }
    return r;
}
