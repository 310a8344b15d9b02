/*
 * rest/schema - the catalog statement and the snapshot built from its JSON
 * (see schema.h). PostgreSQL assembles the whole catalog view as one JSON
 * document in one statement: one round trip, one consistent state, and no
 * row-by-row text parsing here.
 */
#include "rest/schema.h"
#include "rest/sql.h" /* rest_sql_ident for the star select */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const char rest_catalog_sql[] =
    "SELECT json_build_object("
    "'tables', coalesce((SELECT json_agg(json_build_object("
    "  's', n.nspname, 'n', c.relname, 'k', c.relkind, 'd', obj_description(c.oid, 'pg_class'),"
    "  'e', c.reltuples,"
    "  'c', (SELECT json_agg(json_build_object("
    "      'n', a.attname, 't', format_type(a.atttypid, a.atttypmod),"
    "      'y', coalesce(et.typname, t.typname), 'g', coalesce(et.typcategory, t.typcategory),"
    "      'a', et.oid IS NOT NULL, 'nl', NOT a.attnotnull,"
    "      'df', a.atthasdef OR a.attidentity <> '', 'gen', a.attgenerated <> '',"
    "      'dx', pg_get_expr(d.adbin, d.adrelid), 'ds', col_description(c.oid, a.attnum))"
    "    ORDER BY a.attnum)"
    "    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    "    LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'"
    "    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    "    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"
    "  'pk', (SELECT json_agg(a.attname ORDER BY k.o)"
    "    FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
    "    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n"
    "    WHERE i.indrelid = c.oid AND i.indisprimary)"
    ") ORDER BY n.nspname, c.relname)"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    "    AND NOT c.relispartition), '[]'),"
    "'fks', coalesce((SELECT json_agg(json_build_object("
    "  'n', con.conname, 'fs', ns.nspname, 'ft', cs.relname, 'ts', nt.nspname, 'tt', ct.relname,"
    "  'fc', (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.conkey) WITH ORDINALITY k(n, o)"
    "        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n),"
    "  'tc', (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.confkey) WITH ORDINALITY k(n, o)"
    "        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n)"
    ") ORDER BY con.conname)"
    "  FROM pg_constraint con"
    "  JOIN pg_class cs ON cs.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = cs.relnamespace"
    "  JOIN pg_class ct ON ct.oid = con.confrelid JOIN pg_namespace nt ON nt.oid = ct.relnamespace"
    "  WHERE con.contype = 'f' AND con.conparentid = 0"
    "    AND ns.nspname = ANY($1::text[]) AND nt.nspname = ANY($1::text[])), '[]'))";
/* clang-format on */

const char *rest_schema_sql(void)
{
    return rest_catalog_sql;
}

static char *xstrdup(const char *s)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) abort();
    return p;
}

static char *sc_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? xstrdup(s) : NULL;
}

/* "a"b" -> "a""b": an identifier quoted as PostgreSQL's quote_ident would. */
static void sc_quote_ident(char *out, const char *s)
{
    char *o = out;
    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"') *o++ = '"';
        *o++ = *s;
    }
    *o++ = '"';
    *o = '\0';
}

static char *sc_qname(const char *schema, const char *name)
{
    char *out = xcalloc(2 * (strlen(schema) + strlen(name)) + 8, 1);
    sc_quote_ident(out, schema);
    strcat(out, ".");
    sc_quote_ident(out + strlen(out), name);
    return out;
}

static void sc_column(rest_column_t *c, json_t *o, int pos)
{
    c->name = sc_str(o, "n");
    c->type = sc_str(o, "t");
    c->typname = sc_str(o, "y");
    const char *g = json_string_value(json_object_get(o, "g"));
    c->category = g && *g ? g[0] : 'U';
    c->is_array = json_is_true(json_object_get(o, "a"));
    c->nullable = json_is_true(json_object_get(o, "nl"));
    c->generated = json_is_true(json_object_get(o, "gen"));
    c->has_default = json_is_true(json_object_get(o, "df")) || c->generated;
    c->default_expr = sc_str(o, "dx");
    c->description = sc_str(o, "ds");
    c->position = pos;
    /* Decided once here: every plain read asks it of every column. */
    c->encodable = !c->is_array && c->typname && rest_ej_typname_ok(c->typname);
}

/* Once per snapshot, what every read of all columns would otherwise build per request. */
static void sc_rows_plan(rest_table_t *t)
{
    const char **names = xcalloc((size_t)t->ncols + 1, sizeof *names);
    const char **typnames = xcalloc((size_t)t->ncols + 1, sizeof *typnames);
    bool all = t->ncols > 0;
    for (int i = 0; i < t->ncols; i++) {
        names[i] = t->cols[i].name;
        typnames[i] = t->cols[i].typname;
        all = all && t->cols[i].encodable && names[i];
    }
    if (all) rest_ej_plan_init_columns(&t->rows_plan, t->ncols, names, typnames);
    free(names);
    free(typnames);
    if (t->ncols == 0) return;
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < t->ncols; i++) {
        buf_append_str(&b, i ? ", _t0." : "_t0.");
        rest_sql_ident(&b, t->cols[i].name ? t->cols[i].name : "");
    }
    t->star_select = buf_steal(&b);
}

static int sc_table(rest_table_t *t, json_t *o, char *err, size_t errlen)
{
    t->schema = sc_str(o, "s");
    t->name = sc_str(o, "n");
    if (!t->schema || !t->name) {
        snprintf(err, errlen, "catalog document: a table without a name");
        return -1;
    }
    t->qname = sc_qname(t->schema, t->name);
    const char *k = json_string_value(json_object_get(o, "k"));
    t->kind = k && *k ? k[0] : 'r';
    t->description = sc_str(o, "d");
    json_t *e = json_object_get(o, "e");
    t->est_rows = json_is_number(e) ? json_number_value(e) : -1;
    json_t *cols = json_object_get(o, "c");
    t->ncols = json_is_array(cols) ? (int)json_array_size(cols) : 0;
    t->cols = xcalloc((size_t)t->ncols, sizeof *t->cols);
    for (int i = 0; i < t->ncols; i++)
        sc_column(&t->cols[i], json_array_get(cols, (size_t)i), i);
    json_t *pk = json_object_get(o, "pk");
    t->npk = json_is_array(pk) ? (int)json_array_size(pk) : 0;
    t->pk = xcalloc((size_t)t->npk, sizeof *t->pk);
    for (int i = 0; i < t->npk; i++) {
        t->pk[i] = rest_table_column(t, json_string_value(json_array_get(pk, (size_t)i)));
        if (t->pk[i] < 0) {
            snprintf(err, errlen, "catalog document: %s: a key column is missing", t->qname);
            return -1;
        }
        t->cols[t->pk[i]].in_pk = true;
    }
    sc_rows_plan(t);
    return 0;
}

static int sc_cmp_table(const void *a, const void *b)
{
    const rest_table_t *x = a, *y = b;
    int c = strcmp(x->schema, y->schema);
    return c ? c : strcmp(x->name, y->name);
}

static rest_table_t *sc_find(rest_snapshot_t *s, const char *schema, const char *name)
{
    return (rest_table_t *)rest_snapshot_table(s, schema, name);
}

static int sc_fk_cols(rest_table_t *t, json_t *names, int **out, int n)
{
    *out = xcalloc((size_t)n, sizeof **out);
    for (int i = 0; i < n; i++) {
        (*out)[i] = rest_table_column(t, json_string_value(json_array_get(names, (size_t)i)));
        if ((*out)[i] < 0) return -1;
    }
    return 0;
}

static int sc_fks(rest_snapshot_t *s, json_t *fks, char *err, size_t errlen)
{
    size_t n = json_is_array(fks) ? json_array_size(fks) : 0;
    s->fks = xcalloc(n, sizeof *s->fks);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(fks, i);
        rest_table_t *from = sc_find(s, json_string_value(json_object_get(o, "fs")),
                                     json_string_value(json_object_get(o, "ft")));
        rest_table_t *to = sc_find(s, json_string_value(json_object_get(o, "ts")),
                                   json_string_value(json_object_get(o, "tt")));
        json_t *fc = json_object_get(o, "fc"), *tc = json_object_get(o, "tc");
        if (!from || !to || !json_is_array(fc) || json_array_size(fc) != json_array_size(tc))
            continue; /* a key to a relation outside the snapshot */
        rest_fk_t *fk = &s->fks[s->nfks];
        fk->name = sc_str(o, "n");
        fk->from = from;
        fk->to = to;
        fk->ncols = (int)json_array_size(fc);
        if (sc_fk_cols(from, fc, &fk->from_cols, fk->ncols) ||
            sc_fk_cols(to, tc, &fk->to_cols, fk->ncols)) {
            snprintf(err, errlen, "catalog document: foreign key %s names a missing column",
                     fk->name ? fk->name : "?");
            free(fk->name);
            free(fk->from_cols);
            free(fk->to_cols);
            return -1;
        }
        s->nfks++;
    }
    /* each table lists the keys it is on either side of */
    for (int i = 0; i < s->nfks; i++) {
        rest_fk_t *fk = &s->fks[i];
        rest_table_t *sides[2] = {fk->from, fk->to};
        for (int j = 0; j < (fk->from == fk->to ? 1 : 2); j++) {
            rest_table_t *t = sides[j];
            rest_fk_t **grown = realloc(t->fks, sizeof *grown * (size_t)(t->nfks + 1));
            if (!grown) abort();
            t->fks = grown;
            t->fks[t->nfks++] = fk;
        }
    }
    return 0;
}

rest_snapshot_t *rest_snapshot_from_json(const char *json, const char *const *schemas, int nschemas,
                                         char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    json_t *tables = json_object_get(root, "tables");
    if (!root || !json_is_array(tables)) {
        snprintf(err, errlen, "catalog document: %s", root ? "no tables" : je.text);
        json_decref(root);
        return NULL;
    }
    rest_snapshot_t *s = xcalloc(1, sizeof *s);
    s->refs = 1;
    s->nschemas = nschemas;
    s->schemas = xcalloc((size_t)nschemas, sizeof *s->schemas);
    for (int i = 0; i < nschemas; i++)
        s->schemas[i] = xstrdup(schemas[i]);
    s->tables = xcalloc(json_array_size(tables), sizeof *s->tables);
    int rc = 0;
    for (size_t i = 0; i < json_array_size(tables) && rc == 0; i++) {
        rc = sc_table(&s->tables[i], json_array_get(tables, i), err, errlen);
        s->ntables++;
    }
    if (rc == 0) {
        qsort(s->tables, (size_t)s->ntables, sizeof *s->tables, sc_cmp_table);
        rc = sc_fks(s, json_object_get(root, "fks"), err, errlen);
    }
    json_decref(root);
    if (rc != 0) {
        rest_snapshot_unref(s);
        return NULL;
    }
    return s;
}

rest_snapshot_t *rest_snapshot_ref(rest_snapshot_t *s)
{
    /* Atomic: with WORKERS > 1 one snapshot is shared by every loop (rest_app_adopt). */
    if (s) __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

static void sc_free_table(rest_table_t *t)
{
    for (int i = 0; i < t->ncols; i++) {
        rest_column_t *c = &t->cols[i];
        free(c->name);
        free(c->type);
        free(c->typname);
        free(c->default_expr);
        free(c->description);
    }
    free(t->cols);
    free(t->pk);
    free(t->fks);
    free(t->schema);
    free(t->name);
    free(t->qname);
    free(t->description);
    rest_ej_plan_free(&t->rows_plan);
    free(t->star_select);
}

void rest_snapshot_unref(rest_snapshot_t *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    for (int i = 0; i < s->ntables; i++)
        sc_free_table(&s->tables[i]);
    for (int i = 0; i < s->nfks; i++) {
        free(s->fks[i].name);
        free(s->fks[i].from_cols);
        free(s->fks[i].to_cols);
    }
    for (int i = 0; i < s->nschemas; i++)
        free(s->schemas[i]);
    free(s->schemas);
    free(s->tables);
    free(s->fks);
    free(s);
}

const rest_table_t *rest_snapshot_table(const rest_snapshot_t *s, const char *schema,
                                        const char *name)
{
    if (!schema || !name) return NULL;
    int lo = 0, hi = s->ntables - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const rest_table_t *t = &s->tables[mid];
        int c = strcmp(schema, t->schema);
        if (!c) c = strcmp(name, t->name);
        if (!c) return t;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

int rest_table_column(const rest_table_t *t, const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name)) return i;
    return -1;
}

bool rest_snapshot_has_schema(const rest_snapshot_t *s, const char *schema)
{
    for (int i = 0; i < s->nschemas; i++)
        if (!strcmp(s->schemas[i], schema)) return true;
    return false;
}

/* Edit distance, bounded: names longer than 63 bytes are not compared. */
static int sc_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 1 << 20;
    int row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

static bool sc_close(const char *wanted, const char *cand, int *best)
{
    int d = sc_distance(wanted, cand);
    int limit = (int)strlen(wanted) / 3 + 1;
    if (d <= limit && d < *best) {
        *best = d;
        return true;
    }
    return false;
}

const char *rest_closest_table(const rest_snapshot_t *s, const char *schema, const char *wanted)
{
    const char *found = NULL;
    int best = 1 << 20;
    for (int i = 0; i < s->ntables; i++)
        if (!strcmp(s->tables[i].schema, schema) && sc_close(wanted, s->tables[i].name, &best))
            found = s->tables[i].name;
    return found;
}

const char *rest_closest_column(const rest_table_t *t, const char *wanted)
{
    const char *found = NULL;
    int best = 1 << 20;
    for (int i = 0; i < t->ncols; i++)
        if (sc_close(wanted, t->cols[i].name, &best)) found = t->cols[i].name;
    return found;
}
