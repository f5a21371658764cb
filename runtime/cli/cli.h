/* runtime/cli/cli.h — the vitrun commands beyond run / bench / decompose /
 * info / embed-text / toyworld (those are in runtime/main.c), one file
 * each, and the helpers they share (util.c).  Each command takes the whole
 * argv (argv[1] is its name), prints its own usage on -h / --help, writes
 * outputs atomically and returns the process exit status. */
#ifndef VIT_CLI_H
#define VIT_CLI_H

#include <stdint.h>
#include <stdio.h>

int cmd_index(int argc, char **argv);    /* index.c */
int cmd_merge(int argc, char **argv);    /* index.c */
int cmd_align(int argc, char **argv);    /* align.c */
int cmd_describe(int argc, char **argv); /* describe.c */
int cmd_score(int argc, char **argv);    /* score.c */
int cmd_retrieve(int argc, char **argv); /* retrieve.c */
int cmd_heatmap(int argc, char **argv);  /* heatmap.c */
int cmd_ablate(int argc, char **argv);   /* ablate.c */
int cmd_probe(int argc, char **argv);    /* ablate.c */
int cmd_segment(int argc, char **argv);  /* segment.c */
int cmd_report(int argc, char **argv);   /* report.c */

/* ---- util.c ---- */

/* A progress bar on stderr: "label  [#####.....]  120/1000  35.2/s  ETA 0:25".
 * Redrawn in place (at most 10 times a second) when stderr is a terminal;
 * otherwise one line every 10 % (so logs stay short).  done() ends the line. */
typedef struct {
    const char *label;
    int64_t total;
    double t0, last;
    int tty, last_decile;
} CliProgress;
void cli_progress_start(CliProgress *p, const char *label, int64_t total);
void cli_progress_update(CliProgress *p, int64_t done);
void cli_progress_done(CliProgress *p, int64_t done);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Write text to path atomically (a temporary file beside it, fsync, rename).
 * 0 on success; -1 with a message on stderr. */
int cli_write_text_atomic(const char *path, const char *text);

/* Read a text file's non-empty lines (trailing \r\n removed); NULL with a
 * message on stderr when unreadable.  Free with cli_free_lines. */
char **cli_read_lines(const char *path, int *n);
void cli_free_lines(char **v, int n);

/* "comps.safetensors" -> "comps.json" (same stem, .json) into buf. */
void cli_sidecar_path(const char *out, char *buf, size_t len);

/* Parse a positive integer option value; -1 with a message when invalid. */
int cli_parse_int(const char *opt, const char *val, int lo, int hi, int *out);

#endif
