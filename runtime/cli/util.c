/* runtime/cli/util.c — helpers shared by the vitrun commands (cli.h). */
#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

double cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void cli_progress_start(CliProgress *p, const char *label, int64_t total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->t0 = p->last = cli_now();
    p->tty = isatty(2);
    p->last_decile = -1;
}

static void draw(CliProgress *p, int64_t done, int final) {
    double el = cli_now() - p->t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 && p->total > done ? (double)(p->total - done) / rate : 0;
    char bar[31];
    int fill = p->total > 0 ? (int)(30 * done / p->total) : 30;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    int e = (int)(final ? el : eta);
    fprintf(stderr, "%s%s  [%s]  %lld/%lld  %.1f/s  %s %d:%02d:%02d%s", p->tty ? "\r" : "", p->label, bar, (long long)done,
            (long long)p->total, rate, final ? "took" : "ETA", e / 3600, e / 60 % 60, e % 60, p->tty && !final ? "" : "\n");
    fflush(stderr);
}

void cli_progress_update(CliProgress *p, int64_t done) {
    double t = cli_now();
    if (p->tty) {
        if (t - p->last < 0.1 && done < p->total) return;
        p->last = t;
        draw(p, done, 0);
    } else {
        int d = p->total > 0 ? (int)(10 * done / p->total) : 10;
        if (d == p->last_decile || d >= 10) return;
        p->last_decile = d;
        draw(p, done, 0);
    }
}

void cli_progress_done(CliProgress *p, int64_t done) { draw(p, done, 1); }

int cli_write_text_atomic(const char *path, const char *text) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) { fprintf(stderr, "vitrun: out of memory\n"); return -1; }
    snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) { fprintf(stderr, "vitrun: %s: %s\n", path, strerror(errno)); free(tmp); return -1; }
    fchmod(fd, 0644); /* as a plain file would be (mkstemp makes it private) */
    FILE *f = fdopen(fd, "w");
    int ok = f && fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fd) == 0;
    if (f) fclose(f);
    else close(fd);
    if (!ok || rename(tmp, path)) { fprintf(stderr, "vitrun: %s: write failed\n", path); unlink(tmp); free(tmp); return -1; }
    free(tmp);
    return 0;
}

/* The next line of f (its \n removed) into *line: its length; -1 at the end
 * of the file; -2 when longer than CLI_MAX_LINE (the rest of it unread);
 * -3 when out of memory. */
static long read_line(FILE *f, char **line, size_t *cap) {
    size_t len = 0;
    int ch = EOF;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (len >= CLI_MAX_LINE) return -2;
        if (len + 2 > *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            char *nl = realloc(*line, nc);
            if (!nl) return -3;
            *line = nl, *cap = nc;
        }
        (*line)[len++] = (char)ch;
    }
    if (ch == EOF && !len) return -1;
    if (!*line && !(*line = malloc(*cap = 1))) return -3;
    (*line)[len] = 0;
    return (long)len;
}

char **cli_read_lines(const char *path, int *n) {
    FILE *f = fopen(path, "r");
    *n = 0;
    if (!f) { fprintf(stderr, "vitrun: %s: %s\n", path, strerror(errno)); return NULL; }
    char **v = NULL, *line = NULL;
    size_t cap = 0;
    int vcap = 0, lineno = 0;
    long len;
    while ((len = read_line(f, &line, &cap)) >= 0) {
        lineno++;
        while (len > 0 && line[len - 1] == '\r') line[--len] = 0;
        if (!len) continue;
        if (*n == vcap) {
            vcap = vcap ? 2 * vcap : 64;
            char **nv = realloc(v, sizeof(char *) * (size_t)vcap);
            if (!nv) break;
            v = nv;
        }
        v[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (len < -1) {
        if (len == -2) fprintf(stderr, "vitrun: %s:%d: a line longer than %d bytes (1 MiB); one item a line is expected\n", path, lineno + 1, CLI_MAX_LINE);
        else fprintf(stderr, "vitrun: %s: out of memory\n", path);
        cli_free_lines(v, *n);
        *n = 0;
        return NULL;
    }
    if (!v) v = calloc(1, sizeof(char *));
    return v;
}

void cli_free_lines(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void cli_sidecar_path(const char *out, char *buf, size_t len) {
    snprintf(buf, len, "%s", out);
    char *dot = strrchr(buf, '.'), *slash = strrchr(buf, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    strncat(buf, ".json", len - strlen(buf) - 1);
}

int cli_parse_int(const char *opt, const char *val, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = val ? strtol(val, &end, 10) : 0;
    if (!val || !*val || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "vitrun: %s needs an integer in [%d, %d], not '%s'\n", opt, lo, hi, val ? val : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* ---- interrupts ---- */
volatile sig_atomic_t cli_interrupted;
static struct sigaction saved_int, saved_term;

static void on_interrupt(int sig) {
    (void)sig;
    cli_interrupted = 1;
}

void cli_catch_interrupts(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_interrupt;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C stops at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved_int);
    sigaction(SIGTERM, &sa, &saved_term);
}

void cli_release_interrupts(void) {
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
}
