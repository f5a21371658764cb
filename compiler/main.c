/* compiler/main.c — the vitc command line.
 *   vitc compile SPEC -o MODULE.vitm [--size N] [--set k=v]... [--emit-llvm FILE]
 *   vitc check SPEC [--size N] [--set k=v]...
 *   vitc graph SPEC [-o FILE.dot|.svg|.png]
 * Pipeline: elaborate (elab.c) → lower contractions (lower.c) → plan memory
 * (plan.c) → LLVM IR (codegen.c) → module file (ir/module.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline.h"
#include "vitc.h"

static void usage(FILE *o) {
    fprintf(o,
            "usage: vitc compile SPEC.vit -o MODULE.vitm [--size N] [--set NAME=VALUE]... [--emit-llvm FILE.ll]\n"
            "       vitc check SPEC.vit [--keys] [--size N] [--set NAME=VALUE]...\n"
            "       vitc graph SPEC.vit [-o FILE.dot|FILE.svg|FILE.png] [--contrib] [--size N] [--set NAME=VALUE]...\n"
            "options:\n"
            "  -I DIR          also look for imports in DIR (the stdlib is found automatically)\n"
            "  --size N        compile for N x N input images (sets the spec's config 'size')\n"
            "  --set NAME=V    override the spec's config NAME\n"
            "  --decompose OUT embed the decomposition of output OUT (compile) or draw it (graph --contrib),\n"
            "                  with --split AXES, --from LAYER, --bias equal|separate, --ln exact|reference|center\n"
            "                  as for 'vitrun decompose'\n"
            "environment: VITC_DEBUG=1 prints the graph, 2 adds the memory plan\n");
}

typedef struct {
    const char *cmd, *spec, *out, *emit_llvm;
    int keys; /* check --keys: list checkpoint keys and stored shapes */
    int decompose;       /* derive a decomposition */
    ContribOpts dec;     /* its options */
    char splitbuf[256];  /* storage for --split names */
    ConfigSet sets[64];
    char names[64][64]; /* storage for --set names */
    int nsets;
    const char *inc[16];
    int ninc;
} Opts;

static int parse_opts(int argc, char **argv, Opts *o) {
    if (argc < 3) { usage(stderr); return -1; }
    o->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "--decompose") || !strcmp(a, "--split") || !strcmp(a, "--from") || !strcmp(a, "--bias") || !strcmp(a, "--ln") ||
             !strcmp(a, "-o") || !strcmp(a, "--emit-llvm") || !strcmp(a, "--size") || !strcmp(a, "--set") || !strcmp(a, "-I")) &&
            i + 1 >= argc) {
            fprintf(stderr, "vitc: %s needs a value\n", a);
            return -1;
        }
        if (!strcmp(a, "--keys")) o->keys = 1;
        else if (!strcmp(a, "--contrib")) o->decompose = 1;
        else if (!strcmp(a, "--decompose")) { o->decompose = 1; o->dec.output = argv[++i]; }
        else if (!strcmp(a, "--from") || !strcmp(a, "--split") || !strcmp(a, "--bias") || !strcmp(a, "--ln")) {
            char err[128];
            if (pipeline_decompose_opt(a, argv[++i], &o->dec, o->splitbuf, sizeof o->splitbuf, err, sizeof err) < 0) {
                fprintf(stderr, "vitc: %s\n", err);
                return -1;
            }
        }
        else if (!strcmp(a, "-o")) o->out = argv[++i];
        else if (!strcmp(a, "--emit-llvm")) o->emit_llvm = argv[++i];
        else if (!strcmp(a, "-I")) { if (o->ninc < 16) o->inc[o->ninc++] = argv[++i]; }
        else if (!strcmp(a, "--size") || !strcmp(a, "--set")) {
            const char *v = argv[++i];
            if (o->nsets == 64) { fprintf(stderr, "vitc: too many --set options\n"); return -1; }
            if (a[2] == 's' && a[3] == 'i') {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || n < 1) { fprintf(stderr, "vitc: --size needs a positive integer, got '%s'\n", v); return -1; }
                o->sets[o->nsets++] = (ConfigSet){"size", v};
            } else {
                const char *eq = strchr(v, '=');
                if (!eq || eq == v) { fprintf(stderr, "vitc: --set needs NAME=VALUE, got '%s'\n", v); return -1; }
                snprintf(o->names[o->nsets], sizeof o->names[0], "%.*s", (int)(eq - v), v);
                o->sets[o->nsets] = (ConfigSet){o->names[o->nsets], eq + 1};
                o->nsets++;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "vitc: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        } else if (!o->spec) o->spec = a;
        else { fprintf(stderr, "vitc: unexpected argument '%s'\n", a); return -1; }
    }
    if (!o->spec) { fprintf(stderr, "vitc: no spec file given\n"); return -1; }
    return 0;
}

/* stdlib directories: $VITC_STDLIB, then ../stdlib and ../share/vitc/stdlib beside the executable */
static void add_search(Ctx *c, Opts *o) {
    static const char *dirs[24];
    int n = 0;
    for (int i = 0; i < o->ninc; i++) dirs[n++] = o->inc[i];
    const char *env = getenv("VITC_STDLIB");
    if (env && *env) dirs[n++] = env;
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *s = strrchr(exe, '/');
        if (s) {
            *s = 0;
            dirs[n++] = arena_printf(&c->arena, "%s/../stdlib", exe);
            dirs[n++] = arena_printf(&c->arena, "%s/../share/vitc/stdlib", exe);
            dirs[n++] = arena_printf(&c->arena, "%s/stdlib", exe);
        }
    }
    dirs[n++] = "stdlib";
    c->search = dirs;
    c->nsearch = n;
}

/* Output files are written beside their destination and renamed into
 * place: a failure leaves no partial file. */
typedef struct { char tmp[4200]; const char *out; FILE *f; } AtomicOut;

static FILE *atomic_open(AtomicOut *a, const char *out) {
    a->out = out;
    a->f = NULL;
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmpXXXXXX", out) >= (int)sizeof a->tmp) {
        fprintf(stderr, "vitc: %s: path too long\n", out);
        return NULL;
    }
    int fd = mkstemp(a->tmp);
    if (fd < 0) { fprintf(stderr, "vitc: %s: %s\n", out, strerror(errno)); return NULL; }
    fchmod(fd, 0644); /* as a plain file would be (mkstemp makes it private) */
    if (!(a->f = fdopen(fd, "w"))) { close(fd); unlink(a->tmp); }
    return a->f;
}

/* ok: flush and rename into place; else (or when that fails) remove the temporary.  0 on success. */
static int atomic_close(AtomicOut *a, int ok) {
    ok = ok && !ferror(a->f) && fflush(a->f) == 0 && fsync(fileno(a->f)) == 0;
    fclose(a->f);
    if (ok && !rename(a->tmp, a->out)) return 0;
    if (ok) fprintf(stderr, "vitc: %s: %s\n", a->out, strerror(errno));
    unlink(a->tmp);
    return -1;
}

static int write_graph_file(const IrGraph *g, const char *out) {
    const char *ext = out ? strrchr(out, '.') : NULL;
    AtomicOut a;
    if (!out) { dot_write(g, stdout); return 0; }
    if (ext && !strcmp(ext, ".dot")) {
        if (!atomic_open(&a, out)) return 1;
        dot_write(g, a.f);
        return atomic_close(&a, 1) ? 1 : 0;
    }
    if (!ext || (strcmp(ext, ".svg") && strcmp(ext, ".png"))) {
        fprintf(stderr, "vitc: graph output must end in .dot, .svg or .png\n");
        return 1;
    }
    char tmp[] = "/tmp/vitc-graph-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) { perror("mkstemp"); return 1; }
    FILE *f = fdopen(fd, "w");
    dot_write(g, f);
    fclose(f);
    /* Graphviz writes a temporary beside the output, renamed into place when it succeeds */
    if (!atomic_open(&a, out)) { unlink(tmp); return 1; }
    char cmd[8800];
    snprintf(cmd, sizeof cmd, "dot -T%s '%s' -o '%s'", ext + 1, tmp, a.tmp);
    int rc = system(cmd);
    unlink(tmp);
    if (rc) fprintf(stderr, "vitc: running Graphviz 'dot' failed; install graphviz, or write .dot\n");
    return atomic_close(&a, !rc) ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { usage(stdout); return 0; }
    Opts o = {0};
    if (parse_opts(argc, argv, &o)) return 2;
    if (strcmp(o.cmd, "compile") && strcmp(o.cmd, "check") && strcmp(o.cmd, "graph")) {
        fprintf(stderr, "vitc: unknown command '%s'\n", o.cmd);
        usage(stderr);
        return 2;
    }
    if (!strcmp(o.cmd, "compile") && !o.out) { fprintf(stderr, "vitc: compile needs -o MODULE.vitm\n"); return 2; }
    Ctx c;
    ctx_init(&c);
    add_search(&c, &o);
    int rc = 1;
    IrGraph *g = elab_model(&c, o.spec, o.sets, o.nsets), *lg = NULL;
    void *bc = NULL;
    size_t bclen = 0;
    char err[1024];
    if (!g) goto done;
    const char *dbg = getenv("VITC_DEBUG");
    int level = dbg ? atoi(dbg) : 0;
    if (o.decompose && pipeline_decompose(g, &o.dec, err, sizeof err)) { fprintf(stderr, "vitc: decompose: %s\n", err); goto done; }
    if (!strcmp(o.cmd, "graph")) { rc = write_graph_file(g, o.out); goto done; }
    if (!strcmp(o.cmd, "check") && o.keys) {
        for (int i = 0; i < g->n; i++) {
            const IrNode *n = &g->nodes[i];
            if (n->op != IR_OP_PARAM) continue;
            printf("%s\t", n->key);
            for (int a = 0; a < n->stored.rank; a++) printf("%s%lld", a ? "," : "", (long long)n->stored.ax[a].size);
            printf("\n");
        }
        rc = 0;
        goto done;
    }
    if (!strcmp(o.cmd, "check")) {
        int np = 0;
        int64_t nw = 0;
        for (int i = 0; i < g->n; i++)
            if (g->nodes[i].op == IR_OP_PARAM) { np++; nw += ir_numel(&g->nodes[i].shape); }
        printf("%s: model %s: %d nodes, %d parameters (%lld weights)\n", o.spec, g->name, g->n, np, (long long)nw);
        char sh[256];
        ir_shape_str(&g->nodes[g->input].shape, sh, sizeof sh);
        printf("  input %s; preprocess: resize %d %s, crop %d, mean (%g, %g, %g), std (%g, %g, %g)\n", sh, g->pre.resize,
               g->pre.interp ? "bicubic" : "bilinear", g->pre.size, g->pre.mean[0], g->pre.mean[1], g->pre.mean[2],
               g->pre.std[0], g->pre.std[1], g->pre.std[2]);
        for (int i = 0; i < g->nout; i++) {
            ir_shape_str(&g->nodes[g->outputs[i].node].shape, sh, sizeof sh);
            printf("  output %s %s\n", g->outputs[i].name, sh);
        }
        if (level >= 1) ir_dump(g, stdout);
        rc = 0;
        goto done;
    }
    lg = lower_contractions(g, err, sizeof err);
    if (!lg) { fprintf(stderr, "vitc: %s\n", err); goto done; }
    plan_memory(lg);
    if (level >= 1) ir_dump(lg, stderr);
    if (level >= 2) fprintf(stderr, "activation arena: %.1f MiB per image\n", (double)lg->arena_floats * 4 / (1 << 20));
    if (o.emit_llvm) {
        AtomicOut ao;
        if (!atomic_open(&ao, o.emit_llvm)) goto done;
        int e2 = codegen_emit_text(lg, ao.f, err, sizeof err);
        if (e2) fprintf(stderr, "vitc: %s\n", err);
        if (atomic_close(&ao, !e2)) goto done;
    }
    if (codegen_emit(lg, &bc, &bclen, err, sizeof err)) { fprintf(stderr, "vitc: %s\n", err); goto done; }
    if (ir_module_write(o.out, lg, bc, bclen, err, sizeof err)) { fprintf(stderr, "vitc: %s\n", err); goto done; }
    rc = 0;
done:
    free(bc);
    ir_graph_free(lg);
    ir_graph_free(g);
    ctx_free(&c);
    return rc;
}
