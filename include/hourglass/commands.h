#ifndef HOURGLASS_COMMANDS_H
#define HOURGLASS_COMMANDS_H
#include "hourglass/config.h"

/* hourglass migrate: waits for the database, applies the migrations. Returns the exit code. */
int cmd_migrate(const config_t *cfg);
/* hourglass create-admin EMAIL (password on stdin). Returns the exit code. */
int cmd_create_admin(const config_t *cfg, const char *email);

#endif
