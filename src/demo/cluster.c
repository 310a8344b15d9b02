/*
 * cluster.c - the private PostgreSQL cluster of `lakeapi demo` (see
 * include/lakeapi/cluster.h for the contract).
 *
 * Owns: finding the server binaries, laying out <base> (pgdata, run, log),
 * running initdb / pg_ctl as the right OS user, deciding whether a running
 * postmaster can be reused, and stopping it. Everything here blocks: it runs
 * from the CLI before the event loop exists.
 *
 * Why fork + exec by hand instead of system("su ..."): no shell quoting of
 * paths, a clean environment for the children (no PG* variables, no
 * LD_PRELOAD / ASan settings of a test binary), and the children's output is
 * captured so a failure can be reported with its real cause.
 */
#include "lakeapi/cluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CLUSTER_DEFAULT_BASE  ".demo"
#define CLUSTER_DEFAULT_PORT  5433
#define CLUSTER_OS_USER       "postgres" /* the unprivileged user when we are root */
#define CLUSTER_ROLE          "postgres" /* initdb -U: the superuser role */
#define CLUSTER_DBNAME        "postgres"
#define CLUSTER_PG_ROOT       "/usr/lib/postgresql" /* Debian: <root>/<major>/bin */
#define CLUSTER_RELOCATE_ROOT "/var/tmp"
#define CLUSTER_TAIL_BYTES    640 /* how much child output / server log errors quote */
#define CLUSTER_MAX_GROUPS    64

struct cluster {
    char *base;     /* absolute, after any relocation */
    char *data_dir; /* <base>/pgdata */
    char *run_dir;  /* <base>/run: the socket directory */
    char *log_path; /* <base>/postgresql.log */
    char *bindir;   /* where initdb, pg_ctl, postgres live */
    char *notice;   /* why <base> is not where it was asked to be, or NULL */
    int port;
    bool as_other; /* root: run PostgreSQL programs as CLUSTER_OS_USER */
    uid_t uid;
    gid_t gid;
    char *home;
    gid_t groups[CLUSTER_MAX_GROUPS];
    int ngroups;
    bool was_running;
    bool created;
};

/* ---- small helpers ---- */

static void cl_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cl_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* asprintf that aborts on OOM, like buf_t: a CLI that cannot allocate a path cannot go on. */
static char *cl_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *cl_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    return s;
}

static bool cl_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool cl_is_exec(const char *dir, const char *prog)
{
    char *p = cl_fmt("%s/%s", dir, prog);
    bool ok = access(p, X_OK) == 0;
    free(p);
    return ok;
}

static bool cl_has_server(const char *dir)
{
    return cl_is_exec(dir, "pg_ctl") && cl_is_exec(dir, "initdb") && cl_is_exec(dir, "postgres");
}

/* The last CLUSTER_TAIL_BYTES of a file, from a line start; "" when unreadable. */
static char *cl_file_tail(const char *path)
{
    char buf[CLUSTER_TAIL_BYTES + 1];
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fseek(f, -(long)CLUSTER_TAIL_BYTES, SEEK_END) != 0) rewind(f);
        n = fread(buf, 1, CLUSTER_TAIL_BYTES, f);
        fclose(f);
    }
    buf[n] = '\0';
    char *start = buf;
    if (n == CLUSTER_TAIL_BYTES) {
        char *nl = strchr(buf, '\n');
        if (nl) start = nl + 1;
    }
    return cl_fmt("%s", start);
}

/* 64-bit FNV-1a: a short, stable name for a path. */
static uint64_t cl_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* ---- binaries ---- */

/* The major version in <data>/PG_VERSION, 0 when there is no cluster yet. */
static int cl_data_version(const char *data_dir)
{
    char *p = cl_fmt("%s/PG_VERSION", data_dir);
    FILE *f = fopen(p, "r");
    free(p);
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

/*
 * Debian installs each major version's server in /usr/lib/postgresql/<major>/bin
 * and puts none of them on PATH. Prefer the version the data directory was made
 * with (want > 0), else the highest installed; PATH is the fallback for other
 * layouts, and LAKEAPI_PG_BINDIR overrides everything.
 */
static char *cl_find_bindir(int want)
{
    const char *env = getenv("LAKEAPI_PG_BINDIR");
    if (env && *env) return cl_has_server(env) ? cl_fmt("%s", env) : NULL;

    int best = 0;
    DIR *d = opendir(CLUSTER_PG_ROOT);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            long v = strtol(e->d_name, &end, 10);
            if (*end != '\0' || v <= 0 || v > 1000) continue;
            char *bin = cl_fmt("%s/%ld/bin", CLUSTER_PG_ROOT, v);
            bool ok = cl_has_server(bin);
            free(bin);
            if (ok && (v == want || (best != want && v > best))) best = (int)v;
        }
        closedir(d);
    }
    if (best > 0) return cl_fmt("%s/%d/bin", CLUSTER_PG_ROOT, best);

    const char *path = getenv("PATH");
    char *copy = cl_fmt("%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL, *found = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        if (!cl_is_exec(dir, "pg_ctl")) continue;
        /* /usr/local/bin/pg_ctl may be a symlink into the real bindir. */
        char *link = cl_fmt("%s/pg_ctl", dir);
        char *real = realpath(link, NULL);
        free(link);
        if (real) {
            char *slash = strrchr(real, '/');
            *slash = '\0';
            if (cl_has_server(real)) found = cl_fmt("%s", real);
            free(real);
        }
        if (!found && cl_has_server(dir)) found = cl_fmt("%s", dir);
    }
    free(copy);
    return found;
}

/* ---- running programs as the cluster user ---- */

/* Child side, between fork and exec: only async-signal-safe calls. */
static void cl_child_become(const cluster_t *c)
{
    if (!c->as_other) return;
    if (setgroups((size_t)c->ngroups, c->groups) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0)
        _exit(126);
}

/*
 * Runs argv (argv[0] a full path) as the cluster user with a clean
 * environment, stdout+stderr captured; returns the exit status (or -1 when it
 * could not run / died of a signal) and the output's tail in *out (caller frees).
 */
static int cl_run(const cluster_t *c, char *const argv[], char **out)
{
    char *envp[8];
    int ne = 0;
    envp[ne++] = cl_fmt("PATH=%s:/usr/bin:/bin", c->bindir);
    envp[ne++] = cl_fmt("HOME=%s", c->home ? c->home : "/");
    envp[ne++] = cl_fmt("LANG=C");
    const char *tz = getenv("TZ");
    if (tz) envp[ne++] = cl_fmt("TZ=%s", tz);
    envp[ne] = NULL;

    int fds[2] = {-1, -1};
    int status = -1;
    *out = NULL;
    if (pipe2(fds, O_CLOEXEC) != 0) goto done;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        goto done;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
            _exit(126);
        cl_child_become(c);
        if (chdir(c->base) != 0) _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(fds[1]);
    /* Keep a sliding tail: initdb is chatty, the error is at the end. */
    char tail[CLUSTER_TAIL_BYTES + 1];
    size_t len = 0;
    char chunk[4096];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        size_t k = (size_t)n;
        if (k >= CLUSTER_TAIL_BYTES) {
            memcpy(tail, chunk + k - CLUSTER_TAIL_BYTES, CLUSTER_TAIL_BYTES);
            len = CLUSTER_TAIL_BYTES;
        } else {
            if (len + k > CLUSTER_TAIL_BYTES) {
                size_t drop = len + k - CLUSTER_TAIL_BYTES;
                memmove(tail, tail + drop, len - drop);
                len -= drop;
            }
            memcpy(tail + len, chunk, k);
            len += k;
        }
    }
    close(fds[0]);
    tail[len] = '\0';
    char *nl = len == CLUSTER_TAIL_BYTES ? strchr(tail, '\n') : NULL;
    *out = cl_fmt("%s", nl ? nl + 1 : tail); /* from a line start */
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) goto done;
    if (WIFEXITED(ws)) status = WEXITSTATUS(ws);
done:
    for (int i = 0; i < ne; i++)
        free(envp[i]);
    if (!*out) *out = cl_fmt("%s", strerror(errno));
    return status;
}

/* Whether the cluster user may traverse path (it and all its ancestors). */
static bool cl_user_can_reach(const cluster_t *c, const char *path)
{
    if (!c->as_other) return access(path, X_OK) == 0;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        cl_child_become(c);
        _exit(access(path, X_OK) == 0 ? 0 : 1);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) return false;
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

/* ---- directories ---- */

/* mkdir -p of every ancestor of path (mode 0755: they only need to be traversable). */
static int cl_mkdir_parents(const char *path, char *err, size_t errlen)
{
    char *p = cl_fmt("%s", path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            cl_err(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

/*
 * Creates (or checks) a private directory of the cluster user: a real
 * directory (no symlink: /var/tmp is world-writable), mode 0700, owned by
 * that user. An existing directory owned by a third user is refused rather
 * than taken over.
 */
static int cl_private_dir(const cluster_t *c, const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        cl_err(err, errlen, "cannot create directory %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cl_err(err, errlen, "%s exists and is not a directory", path);
        return -1;
    }
    uid_t want = c->as_other ? c->uid : geteuid();
    if (st.st_uid != want && st.st_uid != geteuid()) {
        cl_err(err, errlen, "%s belongs to uid %u, not to the cluster user (uid %u)", path,
               (unsigned)st.st_uid, (unsigned)want);
        return -1;
    }
    if (c->as_other && st.st_uid != c->uid && chown(path, c->uid, c->gid) != 0) {
        cl_err(err, errlen, "cannot chown %s to %s: %s", path, CLUSTER_OS_USER, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) != 0) {
        cl_err(err, errlen, "cannot chmod 0700 %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The absolute form of a path (no normalization beyond dropping trailing '/'). */
static char *cl_absolute(const char *path)
{
    char *abs;
    if (path[0] == '/') {
        abs = cl_fmt("%s", path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) return NULL;
        abs = cl_fmt("%s/%s", cwd, path);
        free(cwd);
    }
    size_t n = strlen(abs);
    while (n > 1 && abs[n - 1] == '/')
        abs[--n] = '\0';
    return abs;
}

/* The deepest ancestor of path that exists (path itself included). */
static char *cl_existing_ancestor(const char *path)
{
    char *p = cl_fmt("%s", path);
    while (!cl_is_dir(p)) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) {
            p[1] = '\0';
            break;
        }
        *slash = '\0';
    }
    return p;
}

/*
 * Picks the cluster user and <base>. As root, <base> must be reachable by the
 * postgres user; when some ancestor blocks it (a mode 0700 /root), the cluster
 * goes to a per-(uid, path) directory under /var/tmp, which is stable so the
 * next `demo` from the same place finds the same data.
 */
static int cl_choose_base(cluster_t *c, const char *wanted, char *err, size_t errlen)
{
    char *abs = cl_absolute(wanted);
    if (!abs) {
        cl_err(err, errlen, "cannot resolve %s: %s", wanted, strerror(errno));
        return -1;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(CLUSTER_OS_USER);
        if (!pw) {
            cl_err(err, errlen,
                   "running as root, but PostgreSQL refuses to run as root and there is no '%s' "
                   "system user to run it as (install Debian's postgresql package, or create the "
                   "user with 'adduser --system --group %s'), or run demo as a normal user",
                   CLUSTER_OS_USER, CLUSTER_OS_USER);
            free(abs);
            return -1;
        }
        c->as_other = true;
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;
        c->home = cl_fmt("%s", pw->pw_dir);
        c->ngroups = CLUSTER_MAX_GROUPS;
        if (getgrouplist(CLUSTER_OS_USER, c->gid, c->groups, &c->ngroups) < 0) {
            c->groups[0] = c->gid;
            c->ngroups = 1;
        }
        char *anc = cl_existing_ancestor(abs);
        bool ok = cl_user_can_reach(c, anc);
        free(anc);
        if (!ok) {
            char *moved =
                cl_fmt("%s/lakeapi-demo-%u-%012llx", CLUSTER_RELOCATE_ROOT, (unsigned)getuid(),
                       (unsigned long long)(cl_hash(abs) & 0xffffffffffffULL));
            c->notice = cl_fmt("the '%s' user cannot reach %s (a parent directory is not "
                               "traversable), so the demo cluster lives in %s",
                               CLUSTER_OS_USER, abs, moved);
            free(abs);
            abs = moved;
        }
    } else {
        struct passwd *pw = getpwuid(geteuid());
        c->home = cl_fmt("%s", pw ? pw->pw_dir : "/");
    }
    c->base = abs;
    return 0;
}

static int cl_prepare_dirs(cluster_t *c, char *err, size_t errlen)
{
    if (cl_mkdir_parents(c->base, err, errlen) != 0) return -1;
    if (cl_private_dir(c, c->base, err, errlen) != 0) return -1;
    if (cl_private_dir(c, c->run_dir, err, errlen) != 0) return -1;
    if (cl_is_dir(c->data_dir)) return cl_private_dir(c, c->data_dir, err, errlen);
    return 0;
}

/* ---- the postmaster ---- */

/*
 * Whether pid is a live postgres process: a pid recycled by some other program
 * after a crash is not ours, and a killed postmaster may linger as a zombie
 * when nothing reaps it (containers whose init does not).
 */
static bool cl_pid_is_postgres(pid_t pid)
{
    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
    char *path = cl_fmt("/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return true; /* no /proc: trust kill() */
    char line[256] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char *open = strchr(line, '('), *close = strrchr(line, ')');
    if (!ok || !open || !close || close[1] != ' ') return false;
    return strncmp(open + 1, "postgres", 8) == 0 && close[2] != 'Z' && close[2] != 'X';
}

/*
 * The pid in <data>/postmaster.pid when that process is a live postgres, else
 * 0. *stale is set when a pid file exists but names no live postmaster.
 */
static pid_t cl_postmaster_pid(const cluster_t *c, bool *stale)
{
    char *p = cl_fmt("%s/postmaster.pid", c->data_dir);
    FILE *f = fopen(p, "r");
    free(p);
    *stale = false;
    if (!f) return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1) pid = 0;
    fclose(f);
    *stale = !cl_pid_is_postgres((pid_t)pid);
    return *stale ? 0 : (pid_t)pid;
}

static PGPing cl_ping(const cluster_t *c)
{
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    const char *keys[] = {"host", "port", "user", "dbname", "connect_timeout", NULL};
    const char *vals[] = {c->run_dir, port, CLUSTER_ROLE, CLUSTER_DBNAME, "5", NULL};
    return PQpingParams(keys, vals, 0);
}

/*
 * Polls the socket until the server accepts connections (PQPING_OK). Gives up
 * after the timeout, or as soon as the postmaster watched (pid > 0) is gone.
 */
static bool cl_wait_ready(const cluster_t *c, pid_t pid, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (cl_ping(c) == PQPING_OK) return true;
        if (pid > 0 && !cl_pid_is_postgres(pid)) return false;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return cl_ping(c) == PQPING_OK;
}

static int cl_initdb(cluster_t *c, char *err, size_t errlen)
{
    /* C.UTF-8 sorts like C but knows non-ASCII letters; glibc has had it built in since 2.35. */
    locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    const char *locale = loc ? "--locale=C.UTF-8" : "--locale=C";
    if (loc) freelocale(loc);
    char *prog = cl_fmt("%s/initdb", c->bindir);
    char *argv[] = {prog,           "-D", c->data_dir, "-U",           CLUSTER_ROLE,
                    "--auth=trust", "-E", "UTF8",      (char *)locale, NULL};
    char *out;
    int rc = cl_run(c, argv, &out);
    if (rc != 0) cl_err(err, errlen, "initdb of %s failed (exit %d):\n%s", c->data_dir, rc, out);
    free(out);
    free(prog);
    return rc == 0 ? 0 : -1;
}

/* Single-quotes s for the shell that pg_ctl hands -o to. */
static char *cl_shell_quote(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = malloc(n + 1), *w = q;
    if (!q) abort();
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/*
 * pg_ctl start -w. The settings go on the command line rather than into
 * postgresql.conf so they follow the socket directory if <base> moves.
 * wal_level=minimal lets COPY into a table created in the same transaction
 * skip WAL (the loader relies on it for speed); fsync stays on: the demo data
 * should survive a power cut like any database.
 */
static int cl_pg_start(cluster_t *c, char *err, size_t errlen)
{
    char *sock = cl_shell_quote(c->run_dir);
    char *opts = cl_fmt("-c listen_addresses='' -k %s -p %d -c max_connections=200 "
                        "-c shared_buffers=256MB -c fsync=on -c synchronous_commit=on "
                        "-c unix_socket_permissions=0777 -c wal_level=minimal "
                        "-c max_wal_senders=0 -c max_wal_size=2GB",
                        sock, c->port);
    char *prog = cl_fmt("%s/pg_ctl", c->bindir);
    char *argv[] = {prog,        "start", "-w",        "-t", "120", "-D",
                    c->data_dir, "-l",    c->log_path, "-o", opts,  NULL};
    char *out;
    int rc = cl_run(c, argv, &out);
    if (rc == 0 && !cl_wait_ready(c, 0, 30)) rc = -2;
    if (rc != 0) {
        /* The server log says why; pg_ctl's own output only when there is no log. */
        char *log = cl_file_tail(c->log_path);
        cl_err(err, errlen,
               "PostgreSQL did not start (pg_ctl exit %d) for %s; %s %s ends with:\n%s", rc,
               c->data_dir, *log ? "the server log" : "pg_ctl output", *log ? c->log_path : "",
               *log ? log : out);
        free(log);
    }
    free(out);
    free(prog);
    free(opts);
    free(sock);
    return rc == 0 ? 0 : -1;
}

/*
 * Removes leftovers of a crashed postmaster that PostgreSQL itself may not
 * clear: a pid file naming a pid since recycled by another process makes it
 * refuse to start. Only called when no live postmaster owns the data.
 */
static void cl_clear_stale(const cluster_t *c)
{
    char *pidf = cl_fmt("%s/postmaster.pid", c->data_dir);
    char *lock = cl_fmt("%s/.s.PGSQL.%d.lock", c->run_dir, c->port);
    char *sock = cl_fmt("%s/.s.PGSQL.%d", c->run_dir, c->port);
    unlink(pidf);
    unlink(lock);
    unlink(sock);
    free(pidf);
    free(lock);
    free(sock);
}

/* Reuses a live postmaster, or starts the (existing) cluster. */
static int cl_start_or_reuse(cluster_t *c, char *err, size_t errlen)
{
    bool stale;
    pid_t pid = cl_postmaster_pid(c, &stale);
    if (pid > 0) {
        /* It may still be starting up or recovering: give it time. */
        if (cl_wait_ready(c, pid, 60)) {
            c->was_running = true;
            return 0;
        }
        if (!cl_pid_is_postgres(pid)) return cl_start_or_reuse(c, err, errlen); /* it died */
        cl_err(err, errlen,
               "a postmaster (pid %ld) runs on %s but does not answer on %s/.s.PGSQL.%d; "
               "stop it with: %s/pg_ctl stop -D %s",
               (long)pid, c->data_dir, c->run_dir, c->port, c->bindir, c->data_dir);
        return -1;
    }
    if (stale) cl_clear_stale(c);
    return cl_pg_start(c, err, errlen);
}

/* ---- public API ---- */

void cluster_free(cluster_t *c)
{
    if (!c) return;
    free(c->base);
    free(c->data_dir);
    free(c->run_dir);
    free(c->log_path);
    free(c->bindir);
    free(c->notice);
    free(c->home);
    free(c);
}

static int cl_setup(cluster_t *c, const cluster_options_t *opt, char *err, size_t errlen)
{
    const char *wanted =
        opt && opt->base_dir && *opt->base_dir ? opt->base_dir : CLUSTER_DEFAULT_BASE;
    c->port = opt && opt->port > 0 ? opt->port : CLUSTER_DEFAULT_PORT;
    if (c->port > 65535) {
        cl_err(err, errlen, "cluster port %d out of range 1..65535", c->port);
        return -1;
    }
    if (cl_choose_base(c, wanted, err, errlen) != 0) return -1;
    c->data_dir = cl_fmt("%s/pgdata", c->base);
    c->run_dir = cl_fmt("%s/run", c->base);
    c->log_path = cl_fmt("%s/postgresql.log", c->base);
    /* A unix socket path is limited to 107 bytes (sun_path). */
    if (strlen(c->run_dir) + 20 > 107) {
        cl_err(err, errlen, "socket directory path too long for a unix socket: %s", c->run_dir);
        return -1;
    }
    int version = cl_data_version(c->data_dir);
    c->bindir = cl_find_bindir(version);
    const char *env = getenv("LAKEAPI_PG_BINDIR");
    if (!c->bindir && env && *env) {
        cl_err(err, errlen, "LAKEAPI_PG_BINDIR=%s has no pg_ctl, initdb and postgres", env);
        return -1;
    }
    if (!c->bindir) {
        cl_err(err, errlen,
               "PostgreSQL server binaries not found (looked in %s/<version>/bin and PATH); "
               "install them with 'apt-get install postgresql', or set DATABASE_URL",
               CLUSTER_PG_ROOT);
        return -1;
    }
    if (cl_prepare_dirs(c, err, errlen) != 0) return -1;
    if (version < 0) {
        cl_err(err, errlen, "%s/PG_VERSION is unreadable: not a usable cluster", c->data_dir);
        return -1;
    }
    if (version == 0) {
        if (cl_initdb(c, err, errlen) != 0) return -1;
        c->created = true;
    }
    return 0;
}

int cluster_start(const cluster_options_t *opt, cluster_t **out, char *err, size_t errlen)
{
    *out = NULL;
    cluster_t *c = calloc(1, sizeof *c);
    if (!c) {
        cl_err(err, errlen, "out of memory");
        return -1;
    }
    if (cl_setup(c, opt, err, errlen) != 0 || cl_start_or_reuse(c, err, errlen) != 0) {
        cluster_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int cluster_stop(cluster_t *c, char *err, size_t errlen)
{
    bool stale;
    if (!c || cl_postmaster_pid(c, &stale) == 0) return 0;
    char *prog = cl_fmt("%s/pg_ctl", c->bindir);
    char *argv[] = {prog, "stop", "-D", c->data_dir, "-m", "fast", "-w", "-t", "60", NULL};
    char *out;
    int rc = cl_run(c, argv, &out);
    /* pg_ctl fails when the server went away meanwhile: that is a stopped cluster too. */
    if (rc != 0 && cl_postmaster_pid(c, &stale) == 0) rc = 0;
    if (rc != 0)
        cl_err(err, errlen, "pg_ctl stop -D %s failed (exit %d):\n%s", c->data_dir, rc, out);
    free(out);
    free(prog);
    return rc == 0 ? 0 : -1;
}

const char *cluster_host(const cluster_t *c)
{
    return c->run_dir;
}

int cluster_port(const cluster_t *c)
{
    return c->port;
}

const char *cluster_user(const cluster_t *c)
{
    (void)c;
    return CLUSTER_ROLE;
}

const char *cluster_dbname(const cluster_t *c)
{
    (void)c;
    return CLUSTER_DBNAME;
}

const char *cluster_data_dir(const cluster_t *c)
{
    return c->data_dir;
}

const char *cluster_log_path(const cluster_t *c)
{
    return c->log_path;
}

bool cluster_was_running(const cluster_t *c)
{
    return c->was_running;
}

bool cluster_created(const cluster_t *c)
{
    return c->created;
}

const char *cluster_notice(const cluster_t *c)
{
    return c->notice;
}
