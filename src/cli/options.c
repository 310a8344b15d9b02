/*
 * options - the small argv helpers the subcommands share, and settings
 * loading with the error printed the same way everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char *cli_take_option(int *argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        int used = 0;
        if (strncmp(a, name, n) == 0 && a[n] == '=') {
            value = a + n + 1;
            used = 1;
        } else if (strcmp(a, name) == 0 && i + 1 < *argc) {
            value = argv[i + 1];
            used = 2;
        }
        if (!used) continue;
        memmove(&argv[i], &argv[i + used], sizeof(char *) * (size_t)(*argc - i - used));
        *argc -= used;
        argv[*argc] = NULL;
        return value;
    }
    return NULL;
}

int cli_load_config(config_t *cfg, int argc, char **argv)
{
    char err[512];
    config_init(cfg);
    /* argv[0] is the subcommand itself: the settings flags follow it. */
    if (config_load(cfg, argc - 1, argv + 1, config_process_getenv, NULL, ".env", err,
                    sizeof err) != 0) {
        fprintf(stderr, "lakeapi: %s\n", err);
        return -1;
    }
    log_set_level(cfg->log_level);
    return 0;
}
