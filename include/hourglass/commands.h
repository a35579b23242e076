#ifndef HOURGLASS_COMMANDS_H
#define HOURGLASS_COMMANDS_H
#include "hourglass/config.h"

/* hourglass create-admin EMAIL (password on stdin). Returns the exit code. */
int cmd_create_admin(const config_t *cfg, const char *email);

#endif
