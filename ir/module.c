/* ir/module.c — reading and writing .vitm modules (format in ir.h).
 * The graph is serialised field by field with explicit little-endian
 * integers; the reader checks every length against the bytes left, so a
 * truncated or foreign file is an error message, never a crash.  Writes go
 * to a temporary file renamed into place. */
#include "ir.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { unsigned char *p; size_t n, cap; } Buf;

static void put(Buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n) c *= 2;
        unsigned char *q = realloc(b->p, c);
        if (!q) { fprintf(stderr, "out of memory\n"); abort(); }
        b->p = q; b->cap = c;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_i64(Buf *b, int64_t v) {
    unsigned char t[8];
    for (int i = 0; i < 8; i++) t[i] = (unsigned char)((uint64_t)v >> (8 * i));
    put(b, t, 8);
}
static void put_f32(Buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); put_i64(b, u); }
static void put_str(Buf *b, const char *s) {
    if (!s) { put_i64(b, -1); return; }
    size_t n = strlen(s);
    put_i64(b, (int64_t)n);
    put(b, s, n);
}
static void put_shape(Buf *b, const IrShape *s) {
    put_i64(b, s->rank);
    for (int i = 0; i < s->rank; i++) { put_str(b, s->ax[i].name); put_i64(b, s->ax[i].size); }
}

typedef struct { const unsigned char *p; size_t n, at; int bad; IrGraph *g; } Rd;

static int64_t get_i64(Rd *r) {
    if (r->bad || r->n - r->at < 8) { r->bad = 1; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[r->at + i] << (8 * i);
    r->at += 8;
    return (int64_t)v;
}
static float get_f32(Rd *r) { uint32_t u = (uint32_t)get_i64(r); float f; memcpy(&f, &u, 4); return f; }
static const char *get_str(Rd *r) {
    int64_t n = get_i64(r);
    if (n == -1 || r->bad) return NULL;
    if (n < 0 || (uint64_t)n > r->n - r->at) { r->bad = 1; return NULL; }
    char *s = ir_alloc(r->g, (size_t)n + 1);
    memcpy(s, r->p + r->at, (size_t)n);
    r->at += (size_t)n;
    return s;
}
static int64_t get_count(Rd *r, int64_t max) {
    int64_t v = get_i64(r);
    if (v < 0 || v > max) { r->bad = 1; return 0; }
    return v;
}
static void get_shape(Rd *r, IrShape *s) {
    s->rank = (int)get_count(r, IR_MAX_RANK);
    for (int i = 0; i < s->rank; i++) { s->ax[i].name = get_str(r); s->ax[i].size = get_i64(r); }
}

static void write_graph(Buf *b, const IrGraph *g) {
    put_str(b, g->name);
    put_i64(b, g->nfiles);
    for (int i = 0; i < g->nfiles; i++) put_str(b, g->files[i]);
    put_i64(b, g->pre.size); put_i64(b, g->pre.resize); put_i64(b, g->pre.interp);
    for (int c = 0; c < 3; c++) { put_f32(b, g->pre.mean[c]); put_f32(b, g->pre.std[c]); }
    put_i64(b, g->nunused);
    for (int i = 0; i < g->nunused; i++) put_str(b, g->unused[i]);
    put_i64(b, g->arena_floats);
    put_str(b, g->meta);
    put_i64(b, g->n);
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        put_i64(b, n->op); put_i64(b, n->nsrc);
        for (int s = 0; s < n->nsrc; s++) put_i64(b, n->src[s]);
        put_shape(b, &n->shape);
        put_i64(b, n->nax);
        for (int a = 0; a < n->nax; a++) put_str(b, n->ax[a]);
        for (int k = 0; k < 4; k++) put_i64(b, n->i[k]);
        for (int k = 0; k < 4; k++) put_f32(b, n->f[k]);
        put_str(b, n->key); put_shape(b, &n->stored);
        put_str(b, n->scope); put_str(b, n->label);
        int64_t nc = n->op == IR_OP_CONST ? ir_numel(&n->shape) : 0;
        put_i64(b, nc);
        for (int64_t k = 0; k < nc; k++) put_f32(b, n->cdata[k]);
        put_i64(b, n->loc.file); put_i64(b, n->loc.line); put_i64(b, n->loc.col);
        put_i64(b, n->offset);
    }
    put_i64(b, g->nout);
    for (int i = 0; i < g->nout; i++) { put_str(b, g->outputs[i].name); put_i64(b, g->outputs[i].node); }
}

/* Structure a module must have before anything walks its graph: sources
 * counted as the op says, shapes within the size limits (ir.h), names
 * present, parameters whose stored and viewed shapes agree, one input,
 * plan offsets inside the arena.  The first problem is described in err.
 * A source location outside the file table is dropped (file -1). */
static int check_graph(IrGraph *g, char *err, size_t errlen) {
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)
    int ninput = 0;
    if (g->arena_floats < 0 || g->arena_floats > IR_MAX_NUMEL * (int64_t)IR_MAX_NODES) BAD("arena of %lld floats", (long long)g->arena_floats);
    if (g->pre.size < 0 || g->pre.resize < 0 || g->pre.interp < 0 || g->pre.interp > 1) BAD("invalid preprocessing");
    for (int i = 0; i < g->nfiles; i++)
        if (!g->files[i]) BAD("source file %d has no name", i);
    for (int i = 0; i < g->nunused; i++)
        if (!g->unused[i]) BAD("unused key %d is missing", i);
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        const char *op = ir_op_info[n->op].name;
        int want = ir_op_info[n->op].nsrc;
        if (want >= 0 ? n->nsrc != want : n->nsrc < 1) BAD("node %d (%s) has %d sources", i, op, n->nsrc);
        int64_t k = ir_numel_checked(&n->shape);
        if (k < 0) BAD("node %d (%s) has an invalid or too large shape", i, op);
        for (int a = 0; a < n->shape.rank; a++)
            if (!n->shape.ax[a].name) BAD("node %d (%s): axis %d has no name", i, op, a);
        for (int a = 0; a < n->nax; a++)
            if (!n->ax[a]) BAD("node %d (%s): axis attribute %d has no name", i, op, a);
        if (n->op == IR_OP_INPUT) ninput++;
        if (n->loc.file < -1 || n->loc.file >= g->nfiles) g->nodes[i].loc.file = -1;
        if (n->op == IR_OP_PARAM && (!n->key || ir_numel_checked(&n->stored) != k))
            BAD("node %d (PARAM): no key, or stored and viewed sizes differ", i);
        if (n->offset < -1 || (n->offset >= 0 && n->offset > g->arena_floats - k))
            BAD("node %d (%s): buffer outside the arena", i, op);
    }
    if (ninput > 1) BAD("%d input nodes", ninput);
    return 0;
#undef BAD
}

static int read_graph(Rd *r, char *err, size_t errlen) {
    IrGraph *g = r->g;
    g->name = get_str(r);
    g->nfiles = (int)get_count(r, 1 << 16);
    if (r->bad) goto bad;
    g->files = ir_alloc(g, sizeof(char *) * (size_t)(g->nfiles + 1));
    for (int i = 0; i < g->nfiles; i++) g->files[i] = get_str(r);
    g->pre.size = (int)get_i64(r); g->pre.resize = (int)get_i64(r); g->pre.interp = (int)get_i64(r);
    for (int c = 0; c < 3; c++) { g->pre.mean[c] = get_f32(r); g->pre.std[c] = get_f32(r); }
    g->nunused = (int)get_count(r, 1 << 16);
    if (r->bad) goto bad;
    g->unused = ir_alloc(g, sizeof(char *) * (size_t)(g->nunused + 1));
    for (int i = 0; i < g->nunused; i++) g->unused[i] = (char *)get_str(r);
    g->arena_floats = get_i64(r);
    g->meta = get_str(r);
    int64_t n = get_count(r, 1 << 24);
    for (int64_t i = 0; i < n && !r->bad; i++) {
        IrNode nd = {0};
        int64_t op = get_i64(r);
        if (op < 0 || op >= IR_OP_COUNT) { r->bad = 1; break; }
        nd.op = (enum ir_op)op;
        nd.nsrc = (int)get_count(r, IR_MAX_SRC);
        for (int s = 0; s < nd.nsrc; s++) {
            nd.src[s] = (int)get_i64(r);
            if (nd.src[s] < 0 || nd.src[s] >= i) r->bad = 1;
        }
        get_shape(r, &nd.shape);
        nd.nax = (int)get_count(r, IR_MAX_RANK);
        for (int a = 0; a < nd.nax; a++) nd.ax[a] = get_str(r);
        for (int k = 0; k < 4; k++) nd.i[k] = get_i64(r);
        for (int k = 0; k < 4; k++) nd.f[k] = get_f32(r);
        nd.key = get_str(r); get_shape(r, &nd.stored);
        nd.scope = get_str(r); nd.label = get_str(r);
        int64_t nc = get_count(r, (int64_t)(r->n - r->at) / 8);
        if (nc) {
            nd.cdata = ir_alloc(g, (size_t)nc * sizeof(float));
            for (int64_t k = 0; k < nc; k++) nd.cdata[k] = get_f32(r);
        }
        nd.loc.file = (int)get_i64(r); nd.loc.line = (int)get_i64(r); nd.loc.col = (int)get_i64(r);
        int64_t off = get_i64(r);
        if (r->bad) break;
        if (nd.op == IR_OP_CONST && (ir_numel_checked(&nd.shape) < 0 || nc != ir_numel(&nd.shape))) { r->bad = 1; break; }
        int id = ir_node_add(g, &nd);
        g->nodes[id].offset = off;
    }
    int64_t no = get_count(r, 1 << 16);
    for (int64_t i = 0; i < no && !r->bad; i++) {
        const char *nm = get_str(r);
        int64_t node = get_i64(r);
        if (!nm || node < 0 || node >= g->n) { r->bad = 1; break; }
        ir_output_add(g, nm, (int)node);
    }
    if (!r->bad) {
        char why[200];
        if (!check_graph(g, why, sizeof why)) return 0;
        snprintf(err, errlen, "corrupt module (%s)", why);
        return -1;
    }
bad:
    snprintf(err, errlen, "corrupt module (graph section ends early or holds an invalid field at byte %zu)", r->at);
    return -1;
}

int ir_module_write(const char *path, const IrGraph *g, const void *bc, size_t bclen,
                    char *err, size_t errlen) {
    Buf gb = {0}, out = {0};
    write_graph(&gb, g);
    put(&out, "VITM", 4);
    unsigned char v[4] = {VITM_VERSION & 255, (VITM_VERSION >> 8) & 255, 0, 0};
    put(&out, v, 4);
    put_i64(&out, (int64_t)gb.n);
    put(&out, gb.p, gb.n);
    put_i64(&out, (int64_t)bclen);
    if (bclen) put(&out, bc, bclen);
    free(gb.p);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    int rc = -1;
    if (fd < 0) { snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno)); goto done; }
    fchmod(fd, 0644); /* as a plain file would be (mkstemp makes it private) */
    FILE *f = fdopen(fd, "wb");
    if (!f || fwrite(out.p, 1, out.n, f) != out.n || fflush(f) || fsync(fd)) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        if (f) fclose(f); else close(fd);
        unlink(tmp);
        goto done;
    }
    fclose(f);
    if (rename(tmp, path)) {
        snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    free(out.p);
    return rc;
}

int ir_module_read(const char *path, IrGraph **gout, void **bc, size_t *bclen, char *err, size_t errlen) {
    *gout = NULL; *bc = NULL; *bclen = 0;
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    Buf b = {0};
    unsigned char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) put(&b, tmp, k);
    fclose(f);
    int rc = -1;
    if (b.n < 8 || memcmp(b.p, "VITM", 4)) {
        snprintf(err, errlen, "%s: not a vitm module (bad magic); compile the spec with 'vitc compile'", path);
        goto done;
    }
    unsigned ver = b.p[4] | (unsigned)b.p[5] << 8 | (unsigned)b.p[6] << 16 | (unsigned)b.p[7] << 24;
    if (ver != VITM_VERSION) {
        snprintf(err, errlen, "%s: module format version %u, this vitrun reads version %u; recompile it with this vitc",
                 path, ver, VITM_VERSION);
        goto done;
    }
    IrGraph *g = ir_graph_new();
    Rd r = {b.p, b.n, 8, 0, g};
    int64_t glen = get_i64(&r);
    if (r.bad || glen < 0 || (uint64_t)glen > b.n - r.at) {
        snprintf(err, errlen, "%s: truncated module (graph section of %lld bytes, %zu left)", path,
                 (long long)glen, b.n - r.at);
        ir_graph_free(g);
        goto done;
    }
    Rd gr = {b.p + r.at, (size_t)glen, 0, 0, g};
    if (read_graph(&gr, err, errlen)) {
        char m[256]; snprintf(m, sizeof m, "%s", err);
        snprintf(err, errlen, "%s: %s", path, m);
        ir_graph_free(g);
        goto done;
    }
    r.at += (size_t)glen;
    int64_t bl = get_i64(&r);
    if (r.bad || bl < 0 || (uint64_t)bl > b.n - r.at) {
        snprintf(err, errlen, "%s: truncated module (code section)", path);
        ir_graph_free(g);
        goto done;
    }
    if (bl) {
        *bc = malloc((size_t)bl);
        memcpy(*bc, b.p + r.at, (size_t)bl);
        *bclen = (size_t)bl;
    }
    *gout = g;
    rc = 0;
done:
    free(b.p);
    return rc;
}
