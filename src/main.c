/*
 * main - the lakeapi command line: picks the subcommand and hands over to
 * src/cli/. Everything else lives in the layers below.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void main_usage(FILE *out)
{
    fputs("lakeapi " LAKEAPI_VERSION " - a fast HTTP/JSON API in front of PostgreSQL / Databricks "
          "Lakebase\n\n"
          "usage:\n"
          "  lakeapi serve [--host H] [--port P] [--set NAME=VALUE ...]\n"
          "                        serve the configured database (DATABASE_URL, PG*, ...)\n"
          "  lakeapi demo [--sf SF] [--users N] [--data-dir DIR] [--host H] [--port P]\n"
          "                        no database configured: run a private PostgreSQL, load the\n"
          "                        demo data once (TPC-H orders SF 1, 1M users) and serve it\n"
          "  lakeapi gen orders --sf SF [--first-row R] [--rows N]\n"
          "                        TPC-H ORDERS to stdout, byte-identical to dbgen\n"
          "  lakeapi gen users [--rows N] [--seed S]\n"
          "                        fake users as CSV to stdout\n"
          "  lakeapi load orders|users|notes|all [--sf SF] [--rows N] [--seed S]\n"
          "                        create the tables and bulk-load the configured database\n"
          "  lakeapi check-config  print the effective settings (secrets masked) and test the "
          "database\n"
          "  lakeapi --version | --help\n\n"
          "Settings come from flags, then the environment, then ./.env (see README).\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        main_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("lakeapi %s\n", LAKEAPI_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "serve")) return cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo")) return cli_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen")) return cli_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "load")) return cli_load(argc - 1, argv + 1);
    if (!strcmp(cmd, "check-config")) return cli_check_config(argc - 1, argv + 1);
    fprintf(stderr, "lakeapi: unknown command '%s'\n\n", cmd);
    main_usage(stderr);
    return 2;
}
