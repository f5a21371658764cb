/* runtime/cli/index.c — vitrun index (decompose a folder of images into a
 * component index, resumable, shardable) and vitrun merge (join shard
 * indexes).  The work is vit_index_build / vit_index_merge (runtime/app/);
 * this file parses arguments, draws the progress bar, turns Ctrl-C into a
 * clean stop and prints the per-stage timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vit.h"

static void index_usage(FILE *o) {
    fprintf(o,
            "usage: vitrun index MODULE.vitm --weights W.safetensors DIR -o INDEX [options]\n"
            "  decomposes every JPEG / PNG under DIR (recursive, sorted by path; ImageFolder classes when every\n"
            "  image sits in a first-level folder) into INDEX/index.json + INDEX/shard-NNNNN.safetensors.\n"
            "  Resumable: rerun the same command after an interruption to continue.  Unreadable images are\n"
            "  skipped with a warning and listed in index.json.\n"
            "options:\n"
            "  --output NAME         the output to decompose (default repr)\n"
            "  --split AXES          keep these axes apart, e.g. head or head,token\n"
            "  --from LAYER          first decomposed layer (ordinal or scope); earlier ones fold into init\n"
            "  --bias equal|separate, --ln exact|reference|center   as for vitrun decompose\n"
            "  --batch B             images per forward pass (default 16)\n"
            "  --chunk C             images per shard file (default 256)\n"
            "  --threads T           threads (default: the cores available)\n"
            "  --engine jit|interp   execution engine (default jit)\n"
            "  --shard i/n           index only chunks k with k %% n == i (several processes or machines;\n"
            "                        join the results with vitrun merge)\n");
}


typedef struct {
    CliProgress bar;
    int started;
} IndexUi;

static int on_progress(void *ud, int64_t done, int64_t todo) {
    IndexUi *ui = ud;
    if (!ui->started) {
        cli_progress_start(&ui->bar, "indexing", todo);
        ui->started = 1;
    }
    cli_progress_update(&ui->bar, done);
    return cli_interrupted;
}

static void on_warn(void *ud, const char *msg) {
    IndexUi *ui = ud;
    fprintf(stderr, "%svitrun index: warning: skipping an unreadable image: %s\n", ui->started && ui->bar.tty ? "\n" : "", msg);
}

/* "i/n" with 0 <= i < n; -1 with a message otherwise. */
static int parse_shard(const char *v, int *i, int *n) {
    char *end;
    long a = strtol(v, &end, 10), b = -1;
    if (end != v && *end == '/' && end[1] >= '0' && end[1] <= '9') {
        char *e2;
        b = strtol(end + 1, &e2, 10);
        if (*e2) b = -1;
    }
    if (v[0] < '0' || v[0] > '9' || b < 1 || b > 1000000 || a < 0 || a >= b) {
        fprintf(stderr, "vitrun index: --shard needs i/n with 0 <= i < n (e.g. 0/4), not '%s'\n", v);
        return -1;
    }
    *i = (int)a;
    *n = (int)b;
    return 0;
}

static double pct(double part, double whole) { return whole > 0 ? 100 * part / whole : 0; }

int cmd_index(int argc, char **argv) {
    const char *module = NULL, *weights = NULL, *dir = NULL, *out = NULL;
    vit_index_opts o = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { index_usage(stdout); return 0; }
        static const char *const valued[] = {"--weights", "-o", "--output", "--split", "--from", "--bias", "--ln",
                                             "--batch", "--chunk", "--threads", "--shard", "--engine"};
        int needs = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) needs |= !strcmp(a, valued[k]);
        if (needs && i + 1 >= argc) { fprintf(stderr, "vitrun index: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--weights")) weights = argv[++i];
        else if (!strcmp(a, "-o")) out = argv[++i];
        else if (!strcmp(a, "--output")) o.decomp.output = argv[++i];
        else if (!strcmp(a, "--split")) o.decomp.split = argv[++i];
        else if (!strcmp(a, "--from")) o.decomp.from = argv[++i];
        else if (!strcmp(a, "--bias")) o.decomp.bias = argv[++i];
        else if (!strcmp(a, "--ln")) o.decomp.ln = argv[++i];
        else if (!strcmp(a, "--batch")) { if (cli_parse_int(a, argv[++i], 1, 4096, &o.batch)) return 2; }
        else if (!strcmp(a, "--chunk")) { if (cli_parse_int(a, argv[++i], 1, 1 << 24, &o.chunk)) return 2; }
        else if (!strcmp(a, "--threads")) { if (cli_parse_int(a, argv[++i], 1, 4096, &o.threads)) return 2; }
        else if (!strcmp(a, "--shard")) { if (parse_shard(argv[++i], &o.shard_i, &o.shard_n)) return 2; }
        else if (!strcmp(a, "--engine")) {
            const char *e = argv[++i];
            if (!strcmp(e, "jit")) o.engine = VIT_ENGINE_JIT;
            else if (!strcmp(e, "interp")) o.engine = VIT_ENGINE_INTERP;
            else { fprintf(stderr, "vitrun index: --engine is jit or interp, not '%s'\n", e); return 2; }
        } else if (a[0] == '-' && a[1]) { fprintf(stderr, "vitrun index: unknown option '%s'\n", a); index_usage(stderr); return 2; }
        else if (!module) module = a;
        else if (!dir) dir = a;
        else { fprintf(stderr, "vitrun index: one image folder only (got '%s' and '%s')\n", dir, a); return 2; }
    }
    if (!module || !dir) { fprintf(stderr, "vitrun index: give a module and an image folder\n"); index_usage(stderr); return 2; }
    if (!weights) { fprintf(stderr, "vitrun index: --weights FILE.safetensors is required\n"); return 2; }
    if (!out || !*out) { fprintf(stderr, "vitrun index: -o INDEX (a directory) is required\n"); return 2; }
    IndexUi ui = {0};
    o.progress = on_progress;
    o.warn = on_warn;
    o.ud = &ui;
    cli_catch_interrupts();
    vit_ctx *ctx = vit_ctx_new();
    vit_index_stats st;
    int rc = vit_index_build(ctx, module, weights, dir, out, &o, &st);
    cli_release_interrupts();
    if (ui.started && !rc) cli_progress_done(&ui.bar, st.done);
    else if (ui.started && ui.bar.tty) fprintf(stderr, "\n");
    if (rc) {
        fprintf(stderr, "vitrun index: %s\n", vit_last_error(ctx));
        vit_ctx_free(ctx);
        return 1;
    }
    vit_ctx_free(ctx);
    int64_t have = st.before + st.done;
    const char *of = st.mine < st.total ? "of this shard's" : "of";
    if (st.stopped) {
        fprintf(stderr, "vitrun index: interrupted: %lld %s %lld images are in %s; run the same command again to continue\n",
                (long long)have, of, (long long)st.mine, out);
        return 130;
    }
    if (!st.done) {
        printf("%s: complete already (%lld %s %lld images)\n", out, (long long)have, of, (long long)st.mine);
        return 0;
    }
    printf("indexed %lld images into %s in %.2f s: %.1f images/s%s", (long long)(st.done - st.skipped), out, st.t_wall,
           st.t_wall > 0 ? (double)st.done / st.t_wall : 0, st.skipped ? "" : "\n");
    if (st.skipped) printf(" (%lld unreadable images skipped, listed in %s/index.json)\n", (long long)st.skipped, out);
    if (st.before) printf("continued: %lld images were indexed by earlier runs", (long long)st.before);
    if (st.adopted) printf(" (%lld of them in shards written but not yet listed, checked and kept)", (long long)st.adopted);
    if (st.before) printf("\n");
    if (st.mine < st.total) printf("shard %d/%d: %lld of the folder's %lld images; join the shards with vitrun merge\n",
                                   o.shard_i, o.shard_n ? o.shard_n : 1, (long long)st.mine, (long long)st.total);
    printf("time: decode+preprocess %.0f%% (reader thread, beside the forward pass), forward+decomposition %.0f%%, "
           "write %.0f%%, forward pass waiting for images %.0f%% (of %.2f s)\n",
           pct(st.t_decode, st.t_wall), pct(st.t_forward, st.t_wall), pct(st.t_write, st.t_wall),
           pct(st.t_wait, st.t_wall), st.t_wall);
    return 0;
}

int cmd_merge(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: vitrun merge OUT IN1 IN2 ...\n"
                   "  joins indexes built with --shard i/n (same module, folder and chunk size) into the new\n"
                   "  directory OUT; every chunk must be in exactly one input.\n");
            return 0;
        }
    if (argc < 4) { fprintf(stderr, "usage: vitrun merge OUT IN1 IN2 ...\n"); return 2; }
    vit_ctx *ctx = vit_ctx_new();
    int rc = vit_index_merge(ctx, argv[2], (const char *const *)argv + 3, argc - 3);
    if (rc) fprintf(stderr, "vitrun merge: %s\n", vit_last_error(ctx));
    else {
        vit_index *ix = NULL;
        if (!vit_index_open(ctx, argv[2], &ix))
            printf("wrote %s: %lld images from %d indexes\n", argv[2], (long long)vit_index_count(ix), argc - 3);
        vit_index_close(ix);
    }
    vit_ctx_free(ctx);
    return rc ? 1 : 0;
}
