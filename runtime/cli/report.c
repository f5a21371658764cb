/* runtime/cli/report.c — vitrun report DIR... -o report.html [--title T]
 * [--max-images N]: the pictures, JSON results and markdown tables of run
 * directories as one self-contained HTML page (vit_report_write). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vit.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vitrun report DIR... -o REPORT.html [--title T] [--max-images N] [--exclude PATTERN]...\n"
               "One self-contained HTML page (no external requests) with a table of contents and, for each\n"
               "directory and sub-directory with something to show:\n"
               "  *.png, *.jpg   pictures, inlined (at most N a directory, default 48)\n"
               "  *.json         results as tables (components, scores, descriptions, accuracies, ...)\n"
               "  *.md           markdown: headings, pipe tables, lists, code, paragraphs\n"
               "Captions are file names, or come from a captions.tsv in the directory (FILE<tab>caption lines).\n"
               "Sub-directories holding a labels.jsonl (data sets) are named, not shown; files and directories\n"
               "whose name matches an --exclude pattern (shell wildcards, e.g. 'shard-*') are skipped.\n");
}

static void on_progress(void *user, int done, int total) {
    CliProgress *p = user;
    if (done == 1) cli_progress_start(p, "report", total);
    cli_progress_update(p, done);
}

int cmd_report(int argc, char **argv) {
    const char *out = NULL;
    vit_report_opts o = {0};
    const char **dirs = calloc((size_t)argc, sizeof *dirs), **excl = calloc((size_t)argc, sizeof *excl);
    int nd = 0, rc = 1;
    o.exclude = excl;
    if (!dirs || !excl) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); rc = 0; goto done; }
        int val = !strcmp(a, "-o") || !strcmp(a, "--title") || !strcmp(a, "--max-images") || !strcmp(a, "--exclude");
        if (val && i + 1 >= argc) { fprintf(stderr, "vitrun report: %s needs a value\n", a); goto done; }
        if (!strcmp(a, "-o")) out = argv[++i];
        else if (!strcmp(a, "--title")) o.title = argv[++i];
        else if (!strcmp(a, "--exclude")) excl[o.nexclude++] = argv[++i];
        else if (!strcmp(a, "--max-images")) {
            if (cli_parse_int(a, argv[++i], 1, 100000, &o.max_images)) goto done;
        } else if (a[0] == '-' && a[1]) { fprintf(stderr, "vitrun report: unknown option '%s'\n", a); usage(stderr); goto done; }
        else dirs[nd++] = a;
    }
    if (!nd) { fprintf(stderr, "vitrun report: no directory given\n"); usage(stderr); goto done; }
    if (!out) { fprintf(stderr, "vitrun report: no output file (-o REPORT.html)\n"); goto done; }
    vit_ctx *ctx = vit_ctx_new();
    if (!ctx) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    CliProgress bar;
    vit_report_stats st;
    o.progress = on_progress;
    o.user = &bar;
    double t0 = cli_now();
    if (vit_report_write(ctx, dirs, nd, &o, out, &st)) fprintf(stderr, "vitrun report: %s\n", vit_last_error(ctx));
    else {
        cli_progress_done(&bar, st.images + st.json + st.markdown);
        fprintf(stderr, "%s: pictures %d, JSON files %d, markdown files %d", out, st.images, st.json, st.markdown);
        if (st.hidden) fprintf(stderr, " (%d pictures left out: --max-images)", st.hidden);
        if (st.skipped) fprintf(stderr, " (%d files too large to show)", st.skipped);
        fprintf(stderr, ", %.1f MB, %.2f s\n", (double)st.bytes / 1e6, cli_now() - t0);
        rc = 0;
    }
    vit_ctx_free(ctx);
done:
    free(dirs);
    free(excl);
    return rc;
}
