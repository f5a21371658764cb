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
#include "support.h"
#include "st.h"
#include "toyworld.h"
#include "vit.h"

#define WEIGHTS "examples/toy/deit_toy.safetensors"
#define NIMG 24

static char base[256], module[512], images[512];
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


/* 0 when the two directories hold the same files with the same bytes. */
static int same_dirs(const char *a, const char *b) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' > /dev/null", a, b);
    return system(cmd) != 0;
}

static int ensure_full(char *out) {
    path_in(out, "ix_full");
    if (access(out, F_OK) == 0) return 0;
    vit_ctx *ctx = vit_ctx_new();
    vit_index_opts o = small_opts();
    int rc = vit_index_build(ctx, module, WEIGHTS, images, out, &o, NULL);
    if (rc) fprintf(stderr, "  %s\n", vit_last_error(ctx));
    vit_ctx_free(ctx);
    return rc;
}

TEST(index_equals_vitrun_decompose) {
    if (setup()) FAIL_AT("setup");
    char full[512], dec[512], exe[PATH_MAX], cmd[16384];
    if (ensure_full(full)) FAIL_AT("build");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ASSERT(n > 0);
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    path_in(dec, "dec.safetensors");
    size_t q = (size_t)snprintf(cmd, sizeof cmd, "'%s/vitrun' decompose '%s' --weights %s --split head -o '%s' --threads 1", exe,
                                module, WEIGHTS, dec);
    for (int i = 0; i < NIMG; i++) q += (size_t)snprintf(cmd + q, sizeof cmd - q, " '%s/%06d.png'", images, i);
    ASSERT(q < sizeof cmd);
    strcat(cmd, " > /dev/null");
    ASSERT_EQ(system(cmd), 0);
    int64_t nc = 0, nz = 0;
    float *c = tst_read_tensor(dec, "contrib", &nc), *z = tst_read_tensor(dec, "repr", &nz);
    ASSERT(c && z);
    ASSERT_EQ(nc, NIMG * 17 * 96);
    vit_ctx *ctx = vit_ctx_new();
    vit_index *ix = NULL;
    if (vit_index_open(ctx, full, &ix)) FAIL_AT("%s", vit_last_error(ctx));
    float *ic = malloc(sizeof(float) * (size_t)nc), *iz = malloc(sizeof(float) * (size_t)nz);
    ASSERT_EQ(vit_index_read(ctx, ix, 0, NIMG, ic, iz), VIT_OK);
    double e = check_max_rel(ic, c, (long)nc), ez = check_max_rel(iz, z, (long)nz);
    printf("# index vs vitrun decompose: contrib %.3g, repr %.3g (max rel)\n", e, ez);
    ASSERT(e <= 1e-6 && ez <= 1e-6);
    free(c);
    free(z);
    free(ic);
    free(iz);
    vit_index_close(ix);
    vit_ctx_free(ctx);
    return 0;
}

static int stop_after(void *ud, int64_t done, int64_t todo) {
    (void)todo;
    return done >= *(int64_t *)ud;
}

TEST(index_stopped_then_resumed_equals_one_run) {
    if (setup()) FAIL_AT("setup");
    char full[512], out[512];
    if (ensure_full(full)) FAIL_AT("build");
    path_in(out, "ix_stopped");
    vit_ctx *ctx = vit_ctx_new();
    vit_index_opts o = small_opts();
    int64_t limit = 12; /* chunk 0 (8 images) done, chunk 1 half done: dropped */
    o.progress = stop_after;
    o.ud = &limit;
    vit_index_stats st;
    if (vit_index_build(ctx, module, WEIGHTS, images, out, &o, &st)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(st.stopped, 1);
    ASSERT_EQ(st.done, 8);
    vit_index *ix = NULL;
    if (vit_index_open(ctx, out, &ix)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(vit_index_count(ix), 8);
    ASSERT_EQ(vit_index_total(ix), NIMG);
    vit_index_close(ix);
    o.progress = NULL;
    if (vit_index_build(ctx, module, WEIGHTS, images, out, &o, &st)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(st.before, 8);
    ASSERT_EQ(st.done, 16);
    ASSERT(!same_dirs(full, out));
    vit_ctx_free(ctx);
    return 0;
}

TEST(index_shards_merged_equal_one_run) {
    if (setup()) FAIL_AT("setup");
    char full[512], p0[512], p1[512], merged[512];
    if (ensure_full(full)) FAIL_AT("build");
    path_in(p0, "ix_p0");
    path_in(p1, "ix_p1");
    path_in(merged, "ix_merged");
    vit_ctx *ctx = vit_ctx_new();
    vit_index_opts o = small_opts();
    o.shard_n = 2;
    o.shard_i = 1;
    if (vit_index_build(ctx, module, WEIGHTS, images, p1, &o, NULL)) FAIL_AT("%s", vit_last_error(ctx));
    vit_index *ix = NULL;
    if (vit_index_open(ctx, p1, &ix)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(vit_index_count(ix), 8); /* chunk 1 of 0, 1, 2 */
    ASSERT_EQ(vit_index_image_id(ix, 0), 8);
    ASSERT_STR_EQ(vit_index_image_path(ix, 7), "000015.png");
    vit_index_close(ix);
    const char *one[] = {p1};
    ASSERT_EQ(vit_index_merge(ctx, merged, one, 1), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "2 of 3 chunks are in none of the inputs");
    ASSERT(access(merged, F_OK) != 0);
    o.shard_i = 0;
    if (vit_index_build(ctx, module, WEIGHTS, images, p0, &o, NULL)) FAIL_AT("%s", vit_last_error(ctx));
    const char *both[] = {p1, p0};
    if (vit_index_merge(ctx, merged, both, 2)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT(!same_dirs(full, merged));
    vit_ctx_free(ctx);
    return 0;
}

static void count_warn(void *ud, const char *msg) {
    (*(int *)ud)++;
    if (!strstr(msg, "b/broken.png")) fprintf(stderr, "  warning without the file: %s\n", msg);
}

TEST(index_labels_and_unreadable_images) {
    if (setup()) FAIL_AT("setup");
    char dir[512], out[512], cmd[16384];
    path_in(dir, "classes");
    path_in(out, "ix_classes");
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/b' '%s/a/deeper' '%s/.hidden' && cp '%s/000001.png' '%s/b/' && cp '%s/000002.png' '%s/a/deeper/' && "
             "cp '%s/000003.png' '%s/a/' && cp '%s/000004.png' '%s/.hidden/' && head -c 100 '%s/000005.png' > '%s/b/broken.png' && "
             "echo text > '%s/a/notes.txt'",
             dir, dir, dir, images, dir, images, dir, images, dir, images, dir, images, dir, dir);
    ASSERT_EQ(system(cmd), 0);
    vit_ctx *ctx = vit_ctx_new();
    vit_index_opts o = small_opts();
    int warned = 0;
    o.warn = count_warn;
    o.ud = &warned;
    o.chunk = 3;
    vit_index_stats st;
    if (vit_index_build(ctx, module, WEIGHTS, dir, out, &o, &st)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(warned, 1);
    ASSERT_EQ(st.total, 4);
    ASSERT_EQ(st.skipped, 1);
    vit_index *ix = NULL;
    if (vit_index_open(ctx, out, &ix)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(vit_index_count(ix), 3);
    ASSERT_EQ(vit_index_nclasses(ix), 2);
    ASSERT_STR_EQ(vit_index_class_name(ix, 0), "a");
    ASSERT_STR_EQ(vit_index_class_name(ix, 1), "b");
    ASSERT(vit_index_class_name(ix, 2) == NULL);
    /* sorted: a/000003.png, a/deeper/000002.png, b/000001.png, b/broken.png (skipped) */
    ASSERT_STR_EQ(vit_index_image_path(ix, 0), "a/000003.png");
    ASSERT_STR_EQ(vit_index_image_path(ix, 1), "a/deeper/000002.png");
    ASSERT_STR_EQ(vit_index_image_path(ix, 2), "b/000001.png");
    ASSERT_EQ(vit_index_label(ix, 0), 0);
    ASSERT_EQ(vit_index_label(ix, 1), 0);
    ASSERT_EQ(vit_index_label(ix, 2), 1);
    ASSERT_EQ(vit_index_image_id(ix, 2), 2);
    vit_decomp_opts d = {0};
    d.split = "head";
    ASSERT(!check_against_direct(ix, dir, &d));
    vit_index_close(ix);
    vit_ctx_free(ctx);
    return 0;
}

TEST(index_of_another_module_is_refused) {
    if (setup()) FAIL_AT("setup");
    char full[512], w2[512], m2[512], cmd[16384];
    if (ensure_full(full)) FAIL_AT("build");
    path_in(w2, "other_weights.safetensors");
    path_in(m2, "other.vitm");
    /* the same weights with one byte changed at the end (a parameter's last byte), and the module with a byte appended */
    snprintf(cmd, sizeof cmd, "cp %s '%s' && printf '\\001' | dd of='%s' bs=1 seek=$(($(stat -c %%s %s) - 1)) conv=notrunc 2> /dev/null && "
             "cp '%s' '%s' && printf x >> '%s'", WEIGHTS, w2, w2, WEIGHTS, module, m2, m2);
    ASSERT_EQ(system(cmd), 0);
    vit_ctx *ctx = vit_ctx_new();
    vit_index *ix = NULL;
    if (vit_index_open(ctx, full, &ix)) FAIL_AT("%s", vit_last_error(ctx));
    ASSERT_EQ(vit_index_check_module(ctx, ix, module, WEIGHTS), VIT_OK);
    ASSERT_EQ(vit_index_check_module(ctx, ix, module, w2), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "was built from another weights");
    ASSERT_EQ(vit_index_check_module(ctx, ix, m2, WEIGHTS), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "was built from another module");
    ASSERT_EQ(vit_index_check_module(ctx, ix, m2, w2), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "another module and weights");
    ASSERT_EQ(vit_index_check_module(ctx, ix, "/nonexistent.vitm", WEIGHTS), VIT_ERR_IO);
    ASSERT_CONTAINS(vit_last_error(ctx), "/nonexistent.vitm: No such file");
    char id[VIT_MODULE_ID_LEN], id2[VIT_MODULE_ID_LEN];
    vit_decomp_opts d = {0};
    ASSERT_EQ(vit_module_id(ctx, module, WEIGHTS, &d, id), VIT_OK);
    d.split = "head";
    ASSERT_EQ(vit_module_id(ctx, module, WEIGHTS, &d, id2), VIT_OK);
    ASSERT(strcmp(id, id2) != 0); /* the options are part of the id */
    ASSERT_STR_EQ(id2, vit_index_module_id(ix));
    vit_index_close(ix);
    vit_ctx_free(ctx);
    return 0;
}

TEST(index_bad_requests_fail_cleanly) {
    if (setup()) FAIL_AT("setup");
    char full[512], out[512], broken[512], cmd[8192];
    if (ensure_full(full)) FAIL_AT("build");
    path_in(out, "ix_bad");
    vit_ctx *ctx = vit_ctx_new();
    vit_index_opts o = small_opts();
    o.shard_i = 2;
    o.shard_n = 2;
    ASSERT_EQ(vit_index_build(ctx, module, WEIGHTS, images, out, &o, NULL), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "shard 2/2");
    o = small_opts();
    o.decomp.directions = 4;
    ASSERT_EQ(vit_index_build(ctx, module, WEIGHTS, images, out, &o, NULL), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "directions are not supported");
    o = small_opts();
    o.decomp.output = "nothing";
    ASSERT(vit_index_build(ctx, module, WEIGHTS, images, out, &o, NULL) != VIT_OK);
    ASSERT_CONTAINS(vit_last_error(ctx), "nothing");
    o = small_opts();
    ASSERT(vit_index_build(ctx, module, "/nonexistent.safetensors", images, out, &o, NULL) != VIT_OK);
    ASSERT_CONTAINS(vit_last_error(ctx), "/nonexistent.safetensors");
    ASSERT(access(out, F_OK) != 0); /* nothing left behind */
    vit_index *ix = NULL;
    ASSERT_EQ(vit_index_open(ctx, images, &ix), VIT_ERR_IO);
    ASSERT_CONTAINS(vit_last_error(ctx), "index.json: No such file or directory (not a component index?)");
    ASSERT(ix == NULL);
    /* a manifest cut short, and a shard gone */
    path_in(broken, "ix_broken");
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && head -c 500 '%s/index.json' > '%s/x' && mv '%s/x' '%s/index.json'", full, broken,
             full, broken, broken, broken);
    ASSERT_EQ(system(cmd), 0);
    ASSERT_EQ(vit_index_open(ctx, broken, &ix), VIT_ERR_FORMAT);
    ASSERT_CONTAINS(vit_last_error(ctx), "not valid JSON");
    snprintf(cmd, sizeof cmd, "cp '%s/index.json' '%s/' && rm '%s/shard-00001.safetensors'", full, broken, broken);
    ASSERT_EQ(system(cmd), 0);
    if (vit_index_open(ctx, broken, &ix)) FAIL_AT("%s", vit_last_error(ctx));
    float *c = malloc(sizeof(float) * 17 * 96 * NIMG);
    ASSERT_EQ(vit_index_read(ctx, ix, 0, 8, c, NULL), VIT_OK);
    ASSERT_EQ(vit_index_read(ctx, ix, 4, 8, c, NULL), VIT_ERR_IO);
    ASSERT_CONTAINS(vit_last_error(ctx), "shard-00001.safetensors");
    /* a shard of other data under the right name */
    snprintf(cmd, sizeof cmd, "cp '%s/shard-00002.safetensors' '%s/shard-00001.safetensors'", full, broken);
    ASSERT_EQ(system(cmd), 0);
    ASSERT_EQ(vit_index_read(ctx, ix, 8, 1, c, NULL), VIT_ERR_FORMAT);
    ASSERT_CONTAINS(vit_last_error(ctx), "row 0 holds image 16, the manifest says 8");
    free(c);
    vit_index_close(ix);
    vit_ctx_free(ctx);
    return 0;
}

TESTS {
    T(index_round_trip_equals_direct_runs),
    T(index_equals_vitrun_decompose),
    T(index_stopped_then_resumed_equals_one_run),
    T(index_shards_merged_equal_one_run),
    T(index_labels_and_unreadable_images),
    T(index_of_another_module_is_refused),
    T(index_bad_requests_fail_cleanly),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
