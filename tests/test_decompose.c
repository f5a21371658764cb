/* tests/test_decompose.c — the decomposition pass on every arch and on toy
 * nets it has never seen.  Invariants: the components sum to the output
 * (≤ 1e-4 × ‖output‖), the JIT equals the interpreter on every component;
 * a toy residual net's components equal a hand computation; bad requests
 * (unknown split axis, --from past the last layer, no residual stream) give
 * clear errors.  Directions mode: tests/test_directions.c. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "support.h"
#include "pipeline.h"
#include "st.h"
#include "vit.h"
#include "vitc.h"

/* Run on both engines; check the sum and JIT = interpreter.  Returns 0 ok. */
static int check_model(vit_ctx *ctx, vit_model *m, const float *input, int n, const char *oname, const char *what,
                       double *sum_err, double *engine_err) {
    int no = vit_model_noutputs(m);
    float *outs[2][8] = {{0}};
    int rc = 0;
    for (int e = 0; e < 2; e++) {
        for (int k = 0; k < no; k++) outs[e][k] = malloc((size_t)(vit_model_output_numel(m, k) * n) * sizeof(float));
        if (vit_model_run(ctx, m, e ? VIT_ENGINE_INTERP : VIT_ENGINE_JIT, input, n, 1, outs[e])) {
            fprintf(stderr, "  %s: %s\n", what, vit_last_error(ctx));
            rc = 1;
        }
    }
    char cname[128];
    snprintf(cname, sizeof cname, "contrib.%s", oname);
    int kc = tst_out_index(m, cname), ko = tst_out_index(m, oname);
    if (!rc && (kc < 0 || ko < 0)) rc = 1;
    *sum_err = *engine_err = 0;
    if (!rc) {
        int64_t dim = vit_model_output_numel(m, ko), nc = vit_model_output_numel(m, kc) / dim;
        for (int e = 0; e < 2; e++)
            for (int i = 0; i < n; i++) {
                const float *c = outs[e][kc] + i * nc * dim, *z = outs[e][ko] + i * dim;
                double norm = 0, mx = 0;
                for (int64_t d = 0; d < dim; d++) norm += (double)z[d] * z[d];
                for (int64_t d = 0; d < dim; d++) {
                    double s = 0;
                    for (int64_t q = 0; q < nc; q++) s += c[q * dim + d];
                    if (fabs(s - z[d]) > mx) mx = fabs(s - z[d]);
                }
                double r = mx / sqrt(norm);
                if (r > *sum_err) *sum_err = r;
            }
        *engine_err = check_max_rel(outs[0][kc], outs[1][kc], vit_model_output_numel(m, kc) * n);
    }
    for (int e = 0; e < 2; e++) for (int k = 0; k < no; k++) free(outs[e][k]);
    return rc;
}

TEST(components_sum_to_the_output_on_every_arch_and_engines_agree) {
    DIR *d = opendir("tests/golden");
    if (!d) FAIL_AT("no tests/golden (run from the repository root)");
    struct dirent *de;
    int checked = 0, failed = 0;
    static const char *modes[][3] = {{"head", NULL, NULL}, {"head", "token", NULL}};
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[600];
        snprintf(path, sizeof path, "tests/golden/%s/config.json", de->d_name);
        char *txt = tst_slurp(path);
        if (!txt) continue;
        cJSON *cfg = cJSON_Parse(txt);
        free(txt);
        const char *arch = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "arch"));
        char spec[600], wpath[600], ipath[600];
        snprintf(spec, sizeof spec, "archs/%s.vit", arch);
        snprintf(wpath, sizeof wpath, "tests/golden/%s/weights.safetensors", de->d_name);
        snprintf(ipath, sizeof ipath, "tests/golden/%s/input.safetensors", de->d_name);
        int64_t nin = 0;
        float *input = tst_read_tensor(ipath, "image", &nin);
        for (int md = 0; md < 2; md++) {
            for (int out = 0; out < 2; out++) {
                ContribOpts o = {.output = out ? "logits" : "repr", .nsplit = md + 1};
                for (int k = 0; k <= md; k++) o.split[k] = modes[md][k];
                vit_ctx *ctx = vit_ctx_new();
                char err[1024];
                vit_model *m = tst_build(ctx, spec, cJSON_GetObjectItem(cfg, "set"), &o, err, sizeof err);
                if (!m) {
                    vit_ctx_free(ctx);
                    if (out && strstr(err, "no output 'logits'")) continue; /* headless models */
                    if (out && strstr(err, "only through this non-linear")) continue; /* e.g. a tanh pre-logits head */
                    fprintf(stderr, "  %s %s: %s\n", de->d_name, modes[md][1] ? "head,token" : "head", err);
                    failed++;
                    continue;
                }
                vit_bind_opts bo = {0, 0};
                double se = 0, ee = 0;
                int n = (int)(nin / vit_model_input_numel(m));
                if (vit_model_bind(ctx, m, wpath, &bo) || check_model(ctx, m, input, n, o.output, de->d_name, &se, &ee)) {
                    fprintf(stderr, "  %s: run failed: %s\n", de->d_name, vit_last_error(ctx));
                    failed++;
                } else {
                    printf("# %-40s %-6s %-10s sum %.2e x |out|   jit-vs-interp %.2e\n", de->d_name, o.output,
                           md ? "head,token" : "head", se, ee);
                    if (se > 1e-4 || ee > 1e-5) failed++;
                    checked++;
                }
                vit_model_free(m);
                vit_ctx_free(ctx);
            }
        }
        free(input);
        cJSON_Delete(cfg);
    }
    closedir(d);
    if (checked < 26) FAIL_AT("only %d decompositions checked", checked);
    return failed ? 1 : 0;
}

/* ---- toy nets the pass has never seen -------------------------------------------- */
static const char *TOY =
    "import \"nn\"\n"
    "model toy {\n"
    "  x = input([tok = 3, ch = 4])\n"
    "  x = x + mlp(layer_norm(x, [ch], 1e-5) at \"n1\", [ch], 6, \"relu\") at \"b1\"\n"
    "  g = sigmoid(contract(x, param \"gate\" [ch = 4], [ch]))\n"
    "  x = x + linear(x, [ch], [ch], 4) at \"v\" * g\n"
    "  output repr = select(layer_norm(x, [ch], 1e-5) at \"norm\", [tok], 0)\n"
    "}\n";

static const char *LINEAR =
    "import \"nn\"\n"
    "model lin {\n"
    "  x = input([tok = 3, ch = 4])\n"
    "  x = x + linear(x, [ch], [ch], 4) at \"a\"\n"
    "  output repr = linear(select(x, [tok], 0), [ch], [o], 2) at \"head\"\n"
    "}\n";

static const char *NOSTREAM =
    "import \"nn\"\n"
    "model plain {\n"
    "  x = input([tok = 3, ch = 4])\n"
    "  output repr = linear(gelu(linear(x, [ch], [ch], 4) at \"a\"), [ch], [ch], 4) at \"b\"\n"
    "  output probs = softmax(x, [ch])\n"
    "}\n";

static void rnd(float *p, int n, unsigned *s) {
    for (int i = 0; i < n; i++) { *s = *s * 1103515245u + 12345u; p[i] = ((float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f); }
}

/* tests leave nothing behind in /tmp */
static void rm_dir(const char *dir) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "  could not remove %s\n", dir);
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

/* weights for TOY / LINEAR, keyed as the spec names them */
static int toy_weights(const char *path, float *W, int nw) {
    StWriter *w = st_writer_new();
    unsigned s = 7;
    rnd(W, nw, &s);
    int64_t v4[1] = {4}, m64[2] = {6, 4}, m46[2] = {4, 6}, v6[1] = {6}, m44[2] = {4, 4}, m24[2] = {2, 4}, v2[1] = {2};
    float *p = W;
    for (int i = 0; i < 4; i++) p[i] += 1.0f; /* norm weights near 1 */
    st_writer_add_f32(w, "n1.weight", 1, v4, p); p += 4;
    st_writer_add_f32(w, "n1.bias", 1, v4, p); p += 4;
    st_writer_add_f32(w, "b1.fc1.weight", 2, m64, p); p += 24;
    st_writer_add_f32(w, "b1.fc1.bias", 1, v6, p); p += 6;
    st_writer_add_f32(w, "b1.fc2.weight", 2, m46, p); p += 24;
    st_writer_add_f32(w, "b1.fc2.bias", 1, v4, p); p += 4;
    st_writer_add_f32(w, "gate", 1, v4, p); p += 4;
    st_writer_add_f32(w, "v.weight", 2, m44, p); p += 16;
    st_writer_add_f32(w, "v.bias", 1, v4, p); p += 4;
    st_writer_add_f32(w, "norm.weight", 1, v4, p); p += 4;
    st_writer_add_f32(w, "norm.bias", 1, v4, p); p += 4;
    st_writer_add_f32(w, "a.weight", 2, m44, p); p += 16;
    st_writer_add_f32(w, "a.bias", 1, v4, p); p += 4;
    st_writer_add_f32(w, "head.weight", 2, m24, p); p += 8;
    st_writer_add_f32(w, "head.bias", 1, v2, p); p += 2;
    char err[256];
    return st_writer_finish(w, path, err, sizeof err);
}

static void layer_norm(const double *x, const float *g, const float *b, double *y, double *mu, double *r) {
    double m = 0, v = 0;
    for (int i = 0; i < 4; i++) m += x[i];
    m /= 4;
    for (int i = 0; i < 4; i++) v += (x[i] - m) * (x[i] - m);
    v /= 4;
    *mu = m;
    *r = 1 / sqrt(v + 1e-5);
    for (int i = 0; i < 4; i++) y[i] = (x[i] - m) * *r * g[i] + b[i];
}

static vit_model *build_text(vit_ctx *ctx, const char *dir, const char *text, const ContribOpts *o, char *err, size_t errlen) {
    char spec[512];
    snprintf(spec, sizeof spec, "%s/spec.vit", dir);
    write_file(spec, text);
    return tst_build(ctx, spec, NULL, o, err, errlen);
}

TEST(a_toy_residual_net_matches_a_hand_computed_decomposition) {
    char dir[] = "/tmp/vit-toy-XXXXXX";
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    char wpath[600];
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", dir);
    float W[160];
    if (toy_weights(wpath, W, 160)) FAIL_AT("writing weights");
    vit_ctx *ctx = vit_ctx_new();
    ContribOpts o = {.output = "repr"};
    char err[1024];
    vit_model *m = build_text(ctx, dir, TOY, &o, err, sizeof err);
    if (!m) FAIL_AT("toy: %s", err);
    vit_bind_opts bo = {0, 1};
    if (vit_model_bind(ctx, m, wpath, &bo)) FAIL_AT("%s", vit_last_error(ctx));
    float x[12];
    unsigned s = 99;
    rnd(x, 12, &s);
    float *outs[4];
    for (int k = 0; k < vit_model_noutputs(m); k++) outs[k] = calloc((size_t)vit_model_output_numel(m, k), sizeof(float));
    if (vit_model_run(ctx, m, VIT_ENGINE_JIT, x, 1, 1, outs)) FAIL_AT("%s", vit_last_error(ctx));
    int kc = tst_out_index(m, "contrib.repr");
    ASSERT_EQ(vit_model_output_numel(m, kc), 3 * 4); /* init, b1, v */
    /* by hand: forward pass, then each component through the frozen final norm of token 0 */
    const float *n1g = W, *n1b = W + 4, *w1 = W + 8, *b1 = W + 32, *w2 = W + 38, *b2 = W + 62, *gate = W + 66, *vw = W + 70,
                *vb = W + 86, *ng = W + 90, *nb = W + 94;
    double X[3][4], B1[3][4], X1[3][4], V[3][4], X2[3][4];
    for (int t = 0; t < 3; t++) for (int i = 0; i < 4; i++) X[t][i] = x[t * 4 + i];
    for (int t = 0; t < 3; t++) {
        double y[4], mu, r, h[6];
        layer_norm(X[t], n1g, n1b, y, &mu, &r);
        for (int j = 0; j < 6; j++) { h[j] = b1[j]; for (int i = 0; i < 4; i++) h[j] += w1[j * 4 + i] * y[i]; if (h[j] < 0) h[j] = 0; }
        for (int i = 0; i < 4; i++) { B1[t][i] = b2[i]; for (int j = 0; j < 6; j++) B1[t][i] += w2[i * 6 + j] * h[j]; X1[t][i] = X[t][i] + B1[t][i]; }
        double gd = 0;
        for (int i = 0; i < 4; i++) gd += X1[t][i] * gate[i];
        double gs = 1 / (1 + exp(-gd));
        for (int i = 0; i < 4; i++) { V[t][i] = vb[i]; for (int j = 0; j < 4; j++) V[t][i] += vw[i * 4 + j] * X1[t][j]; V[t][i] *= gs; X2[t][i] = X1[t][i] + V[t][i]; }
    }
    double y[4], mu, r;
    layer_norm(X2[0], ng, nb, y, &mu, &r);
    const double *parts[3] = {X[0], B1[0], V[0]};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++) {
            double want = ng[i] * r * parts[c][i] + (nb[i] - ng[i] * r * mu) / 3.0;
            ASSERT_NEAR(outs[kc][c * 4 + i], want, 1e-5);
        }
    for (int k = 0; k < vit_model_noutputs(m); k++) free(outs[k]);
    vit_model_free(m);
    vit_ctx_free(ctx);
    rm_dir(dir);
    return 0;
}

TEST(a_linear_model_decomposes_exactly) {
    char dir[] = "/tmp/vit-lin-XXXXXX";
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    char wpath[600];
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", dir);
    float W[160];
    if (toy_weights(wpath, W, 160)) FAIL_AT("writing weights");
    vit_ctx *ctx = vit_ctx_new();
    ContribOpts o = {.output = "repr", .bias_separate = true};
    char err[1024];
    vit_model *m = build_text(ctx, dir, LINEAR, &o, err, sizeof err);
    if (!m) FAIL_AT("linear: %s", err);
    vit_bind_opts bo = {0, 1};
    if (vit_model_bind(ctx, m, wpath, &bo)) FAIL_AT("%s", vit_last_error(ctx));
    float x[12];
    unsigned s = 5;
    rnd(x, 12, &s);
    float *outs[4];
    for (int k = 0; k < vit_model_noutputs(m); k++) outs[k] = calloc((size_t)vit_model_output_numel(m, k), sizeof(float));
    if (vit_model_run(ctx, m, VIT_ENGINE_JIT, x, 1, 1, outs)) FAIL_AT("%s", vit_last_error(ctx));
    /* x + A x is linear on both sides: one stream, so init = (I + A) x through the head, bias = the constants */
    const float *aw = W + 98, *ab = W + 114, *hw = W + 118, *hb = W + 126;
    double x1[4], init[2], bias[2];
    for (int i = 0; i < 4; i++) { x1[i] = x[i]; for (int j = 0; j < 4; j++) x1[i] += aw[i * 4 + j] * x[j]; }
    for (int o2 = 0; o2 < 2; o2++) {
        init[o2] = 0;
        bias[o2] = hb[o2];
        for (int i = 0; i < 4; i++) { init[o2] += hw[o2 * 4 + i] * x1[i]; bias[o2] += hw[o2 * 4 + i] * ab[i]; }
    }
    int kc = tst_out_index(m, "contrib.repr");
    ASSERT_EQ(vit_model_output_numel(m, kc), 2 * 2);
    for (int o2 = 0; o2 < 2; o2++) {
        ASSERT_NEAR(outs[kc][o2], init[o2], 1e-5);
        ASSERT_NEAR(outs[kc][2 + o2], bias[o2], 1e-5);
    }
    for (int k = 0; k < vit_model_noutputs(m); k++) free(outs[k]);
    vit_model_free(m);
    vit_ctx_free(ctx);
    rm_dir(dir);
    return 0;
}

static int expect_error(const char *spec_text, const char *spec_path, cJSON *set, ContribOpts o, const char *needle) {
    vit_ctx *ctx = vit_ctx_new();
    char err[1024] = "";
    vit_model *m;
    if (spec_text) {
        char dir[] = "/tmp/vit-bad-XXXXXX";
        if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
        m = build_text(ctx, dir, spec_text, &o, err, sizeof err);
        rm_dir(dir);
    } else {
        m = tst_build(ctx, spec_path, set, &o, err, sizeof err);
    }
    vit_ctx_free(ctx);
    if (m) { vit_model_free(m); FAIL_AT("expected an error containing \"%s\"", needle); }
    printf("# %s\n", err);
    ASSERT_CONTAINS(err, needle);
    return 0;
}

TEST(an_unknown_split_axis_lists_the_axes_that_exist) {
    ContribOpts o = {.output = "repr", .split = {"heads"}, .nsplit = 1};
    return expect_error(NULL, "archs/deit_tiny_patch16_224.vit", NULL, o, "no tensor of the model has that axis (its axes: c, h, w, gy");
}

TEST(from_past_the_last_layer_is_an_error) {
    ContribOpts o = {.output = "repr", .from = "12"};
    return expect_error(NULL, "archs/deit_tiny_patch16_224.vit", NULL, o, "--from 12: the model has 12 layers (0..11; first blocks.0, last blocks.11)");
}

TEST(from_an_unknown_scope_is_an_error) {
    ContribOpts o = {.output = "repr", .from = "layers.3"};
    return expect_error(NULL, "archs/deit_tiny_patch16_224.vit", NULL, o, "--from layers.3: no layer has that scope");
}

TEST(an_output_without_residual_stream_is_an_error) {
    /* linear(gelu(linear(x))): no residual add, and the input is reached only through the GELU */
    ContribOpts o = {.output = "repr"};
    return expect_error(NOSTREAM, NULL, NULL, o, "output 'repr' reaches the residual stream only through this non-linear GELU");
}

TEST(a_non_linear_output_is_an_error) {
    ContribOpts o = {.output = "probs"};
    return expect_error(NOSTREAM, NULL, NULL, o, "output 'probs' is computed by the non-linear SOFTMAX");
}

TEST(an_unknown_output_lists_the_outputs) {
    ContribOpts o = {.output = "logit"};
    return expect_error(NULL, "archs/deit_tiny_patch16_224.vit", NULL, o, "no output 'logit' (its outputs: repr, logits)");
}

TEST(a_split_after_a_non_linear_op_is_an_error) {
    /* split along hid: the MLP's last contraction over hid is fc2, after the GELU... which is fine;
       but splitting along ch in the toy's gate would pass through sigmoid */
    ContribOpts o = {.output = "repr", .split = {"ch"}, .nsplit = 1};
    return expect_error(TOY, NULL, NULL, o, "non-linear");
}

TESTS {
    T(components_sum_to_the_output_on_every_arch_and_engines_agree),
    T(a_toy_residual_net_matches_a_hand_computed_decomposition),
    T(a_linear_model_decomposes_exactly),
    T(an_unknown_split_axis_lists_the_axes_that_exist),
    T(from_past_the_last_layer_is_an_error),
    T(from_an_unknown_scope_is_an_error),
    T(an_output_without_residual_stream_is_an_error),
    T(a_non_linear_output_is_an_error),
    T(an_unknown_output_lists_the_outputs),
    T(a_split_after_a_non_linear_op_is_an_error),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
