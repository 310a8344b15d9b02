/*
 * config/dotenv - the `.env` file parser (internal to the config module; the
 * fuzz target uses it directly).
 *
 * Accepted lines: `NAME=value`, `export NAME=value`, `# comments`, blank lines.
 * Values are unquoted (trailing ` # comment` and whitespace dropped),
 * single-quoted (literal) or double-quoted (\n \r \t \" \\ escapes); quoted
 * values may span lines. CRLF line ends are tolerated. No variable expansion.
 * Anything else is an error naming the file and line.
 */
#ifndef LAKEAPI_CONFIG_DOTENV_H
#define LAKEAPI_CONFIG_DOTENV_H

#include <stddef.h>

typedef struct dotenv_entry {
    char *name;
    char *value;
} dotenv_entry_t;

/* The parsed entries, in file order; owns every string. */
typedef struct dotenv {
    dotenv_entry_t *items;
    size_t len;
    size_t cap;
} dotenv_t;

void dotenv_init(dotenv_t *d);
void dotenv_dispose(dotenv_t *d);

/*
 * Parses text[0..len) and appends its entries to d. source names the text in
 * error messages ("<source>:<line>: <what>"). Returns 0, or -1 with err set;
 * d then holds the entries before the bad line (dispose it either way).
 */
int dotenv_parse(dotenv_t *d, const char *text, size_t len, const char *source, char *err,
                 size_t errlen);

/* Reads and parses the file at path. A missing file is not an error (d stays empty). */
int dotenv_load_file(dotenv_t *d, const char *path, char *err, size_t errlen);

/* The value of name (matched case-insensitively, as pydantic's settings do); the last
 * definition wins. NULL when absent. */
const char *dotenv_get(const dotenv_t *d, const char *name);

#endif
