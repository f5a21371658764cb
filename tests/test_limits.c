/* tests/test_limits.c — the input limits of docs/LIMITS.md that are not
 * golden diagnostics of a spec (tests/diag/limit_*.vit): overflow-checked
 * element counts, a module whose graph breaks the limits or the op rules,
 * image dimensions, the safetensors header length, the spec file size, and
 * every input the fuzzers (fuzz/) found a problem with (tests/fuzz/). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "bpe.h"
#include "img.h"
#include "ir.h"
#include "st.h"
#include "vit.h"
#include "vitc.h"

static char dir[] = "/tmp/vit-limits-XXXXXX";

static const char *tmp(const char *name) {
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* a sparse file of `size` bytes starting with `head` */
static int sparse(const char *path, const void *head, size_t n, off_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    int rc = (write(fd, head, n) == (ssize_t)n && ftruncate(fd, size) == 0) ? 0 : -1;
    close(fd);
    return rc;
}

TEST(numel_checked) {
    IrShape s = {2, {{"a", 3}, {"b", 4}}};
    ASSERT_EQ(ir_numel_checked(&s), 12);
    s.ax[0].size = IR_MAX_DIM + 1;
    ASSERT_EQ(ir_numel_checked(&s), -1); /* one axis too long */
    s = (IrShape){3, {{"a", IR_MAX_DIM}, {"b", IR_MAX_DIM}, {"c", IR_MAX_DIM}}};
    ASSERT_EQ(ir_numel_checked(&s), -1); /* the product would overflow int64 */
    s = (IrShape){2, {{"a", 1 << 18}, {"b", 1 << 18}}};
    ASSERT_EQ(ir_numel_checked(&s), IR_MAX_NUMEL); /* exactly the limit */
    s.ax[1].size++;
    ASSERT_EQ(ir_numel_checked(&s), -1);
    s = (IrShape){1, {{"a", -1}}};
    ASSERT_EQ(ir_numel_checked(&s), -1);
    s.rank = IR_MAX_RANK + 1;
    ASSERT_EQ(ir_numel_checked(&s), -1);
    return 0;
}

/* input [a=2] -> relu, written as a module after `edit` spoils it */
static int write_module(const char *path, void (*edit)(IrGraph *)) {
    IrGraph *g = ir_graph_new();
    IrNode in = {.op = IR_OP_INPUT, .shape = {1, {{"a", 2}}}};
    int x = ir_node_add(g, &in);
    IrNode r = {.op = IR_OP_RELU, .nsrc = 1, .src = {x}, .shape = {1, {{"a", 2}}}};
    ir_output_add(g, "repr", ir_node_add(g, &r));
    g->name = "m";
    g->pre = (IrPreprocess){2, 2, 1, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}};
    if (edit) edit(g);
    char err[256];
    int rc = ir_module_write(path, g, NULL, 0, err, sizeof err);
    ir_graph_free(g);
    return rc;
}
static void huge_axis(IrGraph *g) { g->nodes[1].shape.ax[0].size = IR_MAX_DIM + 1; }
static void huge_numel(IrGraph *g) {
    for (int i = 0; i < 2; i++) g->nodes[i].shape = (IrShape){3, {{"a", 1 << 20}, {"b", 1 << 20}, {"c", 1 << 20}}};
}
static void no_axis_name(IrGraph *g) { g->nodes[1].shape.ax[0].name = NULL; }
static void bad_source_count(IrGraph *g) { g->nodes[1].nsrc = 2; g->nodes[1].src[1] = 0; }
static void offset_outside(IrGraph *g) { g->arena_floats = 4; g->nodes[1].offset = 3; }
static void shape_mismatch(IrGraph *g) { g->nodes[1].shape.ax[0].size = 3; } /* relu of [a=2] as [a=3] */

TEST(module_limits) {
    struct { void (*edit)(IrGraph *); const char *needle; } cases[] = {
        {huge_axis, "invalid or too large shape"}, {huge_numel, "invalid or too large shape"},
        {no_axis_name, "has no name"},              {bad_source_count, "has 2 sources"},
        {offset_outside, "outside the arena"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ASSERT_EQ(write_module(tmp("bad.vitm"), cases[k].edit), 0);
        IrGraph *g = NULL;
        void *bc = NULL;
        size_t bclen = 0;
        char err[512];
        ASSERT_EQ(ir_module_read(tmp("bad.vitm"), &g, &bc, &bclen, err, sizeof err), -1);
        ASSERT(!g && !bc);
        ASSERT_CONTAINS(err, "corrupt module");
        ASSERT_CONTAINS(err, cases[k].needle);
    }
    /* structurally sound but breaking an op's shape rule: refused by the loader */
    ASSERT_EQ(write_module(tmp("bad.vitm"), shape_mismatch), 0);
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    ASSERT_EQ(vit_model_load(ctx, tmp("bad.vitm"), &m), VIT_ERR_FORMAT);
    ASSERT(!m);
    ASSERT_CONTAINS(vit_last_error(ctx), "corrupt module");
    ASSERT_CONTAINS(vit_last_error(ctx), "RELU");
    ASSERT_EQ(write_module(tmp("good.vitm"), NULL), 0);
    ASSERT_EQ(vit_model_load(ctx, tmp("good.vitm"), &m), VIT_OK);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return 0;
}

TEST(module_truncated) {
    /* the good module cut at every length: refused with a message, never read past the end */
    ASSERT_EQ(write_module(tmp("good.vitm"), NULL), 0);
    FILE *f = fopen(tmp("good.vitm"), "rb");
    ASSERT(f);
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ASSERT(n > 16 && n < sizeof buf);
    for (size_t len = 0; len < n; len++) {
        f = fopen(tmp("cut.vitm"), "wb");
        ASSERT(f);
        ASSERT_EQ(fwrite(buf, 1, len, f), len);
        fclose(f);
        IrGraph *g = NULL;
        void *bc = NULL;
        size_t bclen = 0;
        char err[512];
        if (ir_module_read(tmp("cut.vitm"), &g, &bc, &bclen, err, sizeof err) != -1) FAIL_AT("cut at %zu was read", len);
        if (!strstr(err, "truncated module") && !strstr(err, "corrupt module") && !strstr(err, "not a vitm module"))
            FAIL_AT("cut at %zu: %s", len, err);
    }
    return 0;
}

static void be32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

TEST(image_dimensions) {
    /* a PNG header announcing 100000 x 100000 pixels (PIL's decompression-bomb limit is 178956970) */
    unsigned char png[8 + 25 + 12 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char *c = png + 8;
    be32(c, 13);
    memcpy(c + 4, "IHDR", 4);
    be32(c + 8, 100000);
    be32(c + 12, 100000);
    c[16] = 8; c[17] = 2; /* 8-bit RGB */
    be32(c + 21, (uint32_t)crc32(0, c + 4, 17));
    memcpy(c + 25, "\0\0\0\0IDAT", 8); /* an empty IDAT: libpng reports the header when data begins */
    be32(c + 33, (uint32_t)crc32(0, (const unsigned char *)"IDAT", 4));
    memcpy(c + 37, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    unsigned char *rgb = NULL;
    int w = 0, h = 0;
    char err[256];
    ASSERT_EQ(img_decode_rgb8(png, sizeof png, "bomb.png", &rgb, &w, &h, err, sizeof err), -1);
    ASSERT(!rgb);
    ASSERT_CONTAINS(err, "bomb.png: image size 100000x100000 is out of range");
    be32(c + 8, 0); /* zero width */
    be32(c + 21, (uint32_t)crc32(0, c + 4, 17));
    ASSERT_EQ(img_decode_rgb8(png, sizeof png, "empty.png", &rgb, &w, &h, err, sizeof err), -1);
    ASSERT(!rgb);
    return 0;
}

TEST(safetensors_header_limit) {
    unsigned char head[8];
    uint64_t n = (uint64_t)ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++) head[i] = (unsigned char)(n >> (8 * i));
    ASSERT_EQ(sparse(tmp("big.safetensors"), head, 8, (off_t)n + 8), 0);
    StFile *f = NULL;
    char err[512];
    ASSERT_EQ(st_open(tmp("big.safetensors"), &f, err, sizeof err), -1);
    ASSERT(!f);
    ASSERT_CONTAINS(err, "header length 100000001 is above the limit of 100000000 bytes");
    return 0;
}

TEST(spec_file_size) {
    const char head[] = "model m {\n";
    ASSERT_EQ(sparse(tmp("big.vit"), head, sizeof head - 1, (off_t)17 << 20), 0);
    Ctx c;
    ctx_init(&c);
    char *msg = NULL;
    size_t len = 0;
    c.diag_out = open_memstream(&msg, &len);
    IrGraph *g = elab_model(&c, tmp("big.vit"), NULL, 0);
    fclose(c.diag_out);
    ASSERT(!g);
    ASSERT(c.errors > 0);
    ASSERT_CONTAINS(msg, "larger than 16 MiB");
    free(msg);
    ctx_free(&c);
    return 0;
}

TEST(safetensors_json_nesting) {
    /* cJSON refuses nesting deeper than 1000: a clear "JSON" message, no stack overflow */
    char h[4100];
    int n = 0;
    n += snprintf(h + n, sizeof h - n, "{\"a\":");
    for (int i = 0; i < 2000; i++) h[n++] = '[';
    for (int i = 0; i < 2000; i++) h[n++] = ']';
    h[n++] = '}';
    unsigned char head[8];
    for (int i = 0; i < 8; i++) head[i] = (unsigned char)((uint64_t)n >> (8 * i));
    FILE *f = fopen(tmp("deep.safetensors"), "wb");
    ASSERT(f);
    ASSERT_EQ(fwrite(head, 1, 8, f), 8);
    ASSERT_EQ(fwrite(h, 1, (size_t)n, f), n);
    fclose(f);
    StFile *st = NULL;
    char err[512];
    ASSERT_EQ(st_open(tmp("deep.safetensors"), &st, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "JSON");
    return 0;
}

TEST(vocabulary_limits) {
    char err[512];
    BpeTok *t = NULL;
    /* a token id beyond 2^22 would mean a table of that many entries */
    FILE *f = fopen(tmp("vocab.json"), "w");
    ASSERT(f);
    fputs("{\"a\": 0, \"b\": 99999999}", f);
    fclose(f);
    f = fopen(tmp("merges.txt"), "w");
    ASSERT(f);
    fputs("#version: 0.2\na b\n", f);
    fclose(f);
    ASSERT_EQ(bpe_load(tmp("vocab.json"), &t, err, sizeof err), -1);
    ASSERT(!t);
    ASSERT_CONTAINS(err, "entry 'b' is not a token id");
    /* a merges file of more than 256 MiB (here a sparse file of zeros) */
    const char head[] = "#version: 0.2\n";
    ASSERT_EQ(sparse(tmp("huge.txt"), head, sizeof head - 1, (off_t)257 << 20), 0);
    ASSERT_EQ(bpe_load(tmp("huge.txt"), &t, err, sizeof err), -1);
    ASSERT(!t);
    ASSERT_CONTAINS(err, "more than 256 MiB");
    return 0;
}

TESTS {
    T(numel_checked), T(module_limits), T(module_truncated), T(image_dimensions), T(safetensors_header_limit), T(safetensors_json_nesting),
    T(spec_file_size), T(vocabulary_limits),
};

int main(int argc, char **argv) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    int rc = check_main(argc, argv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) rc = 1;
    return rc;
}
