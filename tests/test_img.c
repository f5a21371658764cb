/* tests/test_img.c — image decoding and eval preprocessing against goldens
 * made with PIL, torchvision and timm (tests/reference/make_img_goldens.py):
 * decoded pixels and crops by hash, Resize + CenterCrop as uint8, timm's
 * normalised tensors as float32, and failure messages for bad input.
 * Run from the repository root. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "img.h"

#define GOLDEN "tests/golden/img/img.safetensors"
#define SHARED_DIR "../shared/data/images"

/* ------------------------------------------------------------- helpers */

/* the golden file: safetensors (u64 LE header length, JSON header, data) */
typedef struct {
    unsigned char *buf; /* whole file */
    size_t len;         /* its length */
    cJSON *hdr;         /* parsed header */
    size_t data_off;    /* where tensor data starts */
} Gold;

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

static int gold_open(Gold *g) {
    memset(g, 0, sizeof *g);
    g->buf = slurp(GOLDEN, &g->len);
    if (!g->buf || g->len < 8) return -1;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | g->buf[i];
    if (hl > g->len - 8) return -1;
    g->hdr = cJSON_ParseWithLength((const char *)g->buf + 8, (size_t)hl);
    g->data_off = 8 + (size_t)hl;
    return g->hdr ? 0 : -1;
}

static void gold_close(Gold *g) {
    cJSON_Delete(g->hdr);
    free(g->buf);
}

/* tensor data checked against dtype and byte count; NULL if it does not fit */
static const unsigned char *gold_data(const Gold *g, const cJSON *t, const char *dtype, size_t nbytes) {
    const cJSON *dt = cJSON_GetObjectItem(t, "dtype"), *off = cJSON_GetObjectItem(t, "data_offsets");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, dtype) || cJSON_GetArraySize(off) != 2) return NULL;
    size_t a = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble, b = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    if (b - a != nbytes || g->data_off + b > g->len) return NULL;
    return g->buf + g->data_off + a;
}

/* metadata entry `key` parsed as JSON (caller deletes); NULL if absent */
static cJSON *gold_meta(const Gold *g, const char *key) {
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(g->hdr, "__metadata__"), key);
    return cJSON_IsString(m) ? cJSON_Parse(m->valuestring) : NULL;
}

static int jint(const cJSON *o, const char *k) { return (int)cJSON_GetObjectItem(o, k)->valuedouble; }
static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *s = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(s) ? s->valuestring : "";
}

static void fnv_hex(const unsigned char *p, size_t n, char out[17]) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static IrPreprocess pre(int size, int resize, int interp) {
    IrPreprocess p = {size, resize, interp, {0, 0, 0}, {1, 1, 1}};
    return p;
}

static size_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) ? 0 : (size_t)st.st_size;
}

static const char *tmpdir(void) {
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* writes n bytes to a fresh temporary file; its name goes to path */
static int write_temp(const void *data, size_t n, char *path, size_t pathlen) {
    snprintf(path, pathlen, "%s/test_img_XXXXXX", tmpdir());
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    int ok = write(fd, data, n) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

/* img_load_rgb8 with stdout and stderr redirected to a file; *noise gets
 * the number of bytes the call printed */
static int load_quietly(const char *path, unsigned char **rgb, int *w, int *h, char *err, size_t errlen,
                        long *noise) {
    char cap[512];
    snprintf(cap, sizeof cap, "%s/test_img_out_XXXXXX", tmpdir());
    int fd = mkstemp(cap);
    if (fd < 0) return -2;
    fflush(stdout);
    fflush(stderr);
    int o1 = dup(1), o2 = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    int rc = img_load_rgb8(path, rgb, w, h, err, errlen);
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1);
    close(o2);
    struct stat st;
    *noise = fstat(fd, &st) ? -1 : (long)st.st_size;
    close(fd);
    unlink(cap);
    return rc;
}

/* --------------------------------------------------------------- tests */

/* every decode:<file> entry with the given suffix: size, pixels and a
 * 36 -> 32 bicubic crop all equal PIL's */
static int check_decodes(const char *suffix, int *count) {
    Gold g;
    if (gold_open(&g)) FAIL_AT("cannot read %s", GOLDEN);
    const cJSON *m;
    int fails = 0;
    *count = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(g.hdr, "__metadata__")) {
        const char *key = m->string, *path = key + 7;
        size_t n = strlen(key), sl = strlen(suffix);
        if (strncmp(key, "decode:", 7) || n < sl || strcmp(key + n - sl, suffix)) continue;
        cJSON *e = cJSON_Parse(m->valuestring);
        unsigned char *rgb = NULL;
        int w, h;
        char err[256], hx[17], hc[17];
        unsigned char crop[32 * 32 * 3];
        IrPreprocess p = pre(32, 36, 1);
        if (img_load_rgb8(path, &rgb, &w, &h, err, sizeof err)) {
            fprintf(stderr, "  %s: %s\n", path, err);
            fails++;
        } else {
            fnv_hex(rgb, (size_t)w * h * 3, hx);
            if (img_resize_crop_rgb8(rgb, w, h, &p, crop, err, sizeof err)) snprintf(hc, sizeof hc, "error");
            else fnv_hex(crop, sizeof crop, hc);
            if (w != jint(e, "w") || h != jint(e, "h") || strcmp(hx, jstr(e, "fnv")) || strcmp(hc, jstr(e, "crop32"))) {
                fprintf(stderr, "  %s: %dx%d pixels %s crop %s, PIL %dx%d pixels %s crop %s\n", path, w, h, hx, hc,
                        jint(e, "w"), jint(e, "h"), jstr(e, "fnv"), jstr(e, "crop32"));
                fails++;
            }
        }
        free(rgb);
        cJSON_Delete(e);
        (*count)++;
    }
    gold_close(&g);
    return fails;
}

TEST(decode_jpeg) {
    int n, fails = check_decodes(".jpg", &n);
    printf("# %d JPEG files decoded, %d differ from PIL\n", n, fails);
    ASSERT(n >= 6); /* two examples + grey, CMYK, 4:4:4, 4:2:2, progressive */
    ASSERT_EQ(fails, 0);
    return 0;
}

TEST(decode_png) {
    int n, fails = check_decodes(".png", &n);
    printf("# %d PNG files decoded, %d differ from PIL\n", n, fails);
    ASSERT(n >= 16); /* two examples + every colour type and depth */
    ASSERT_EQ(fails, 0);
    return 0;
}

/* Resize + CenterCrop vs torchvision on PIL, as uint8 */
TEST(preprocess_u8_golden) {
    Gold g;
    if (gold_open(&g)) FAIL_AT("cannot read %s", GOLDEN);
    const cJSON *t;
    long total = 0, diff = 0;
    int maxd = 0, cases = 0, failed = 0;
    cJSON_ArrayForEach(t, g.hdr) {
        if (strncmp(t->string, "u8_", 3)) continue;
        cJSON *m = gold_meta(&g, t->string);
        IrPreprocess p = pre(jint(m, "size"), jint(m, "resize"), jint(m, "interp"));
        size_t nb = (size_t)p.size * p.size * 3;
        const unsigned char *ref = gold_data(&g, t, "U8", nb);
        unsigned char *rgb = NULL, *out = malloc(nb);
        int w, h, casediff = 0;
        char err[256];
        if (!ref || img_load_rgb8(jstr(m, "image"), &rgb, &w, &h, err, sizeof err) ||
            img_resize_crop_rgb8(rgb, w, h, &p, out, err, sizeof err)) {
            fprintf(stderr, "  %s: %s\n", t->string, ref ? err : "bad golden tensor");
            failed++;
        } else {
            for (size_t i = 0; i < nb; i++) {
                int d = abs((int)out[i] - ref[i]);
                if (d) casediff++;
                if (d > maxd) maxd = d;
            }
            if (casediff)
                fprintf(stderr, "  %s (%s resize %d crop %d %s): %d of %zu values differ\n", t->string,
                        jstr(m, "image"), p.resize, p.size, p.interp ? "bicubic" : "bilinear", casediff, nb);
            total += (long)nb;
            diff += casediff;
        }
        free(rgb);
        free(out);
        cJSON_Delete(m);
        cases++;
    }
    gold_close(&g);
    printf("# %d uint8 crops, %ld values, %ld differ, max diff %d\n", cases, total, diff, maxd);
    ASSERT(cases >= 10);
    ASSERT_EQ(failed, 0);
    ASSERT_EQ(diff, 0);
    return 0;
}

/* the full timm eval transform vs img_load_tensor, as float32 */
TEST(preprocess_f32_golden) {
    Gold g;
    if (gold_open(&g)) FAIL_AT("cannot read %s", GOLDEN);
    const cJSON *t;
    double maxd = 0;
    int cases = 0, failed = 0;
    cJSON_ArrayForEach(t, g.hdr) {
        if (strncmp(t->string, "f32_", 4)) continue;
        cJSON *m = gold_meta(&g, t->string);
        IrPreprocess p = pre(jint(m, "size"), jint(m, "resize"), jint(m, "interp"));
        for (int c = 0; c < 3; c++) {
            p.mean[c] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(m, "mean"), c)->valuedouble;
            p.std[c] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(m, "std"), c)->valuedouble;
        }
        size_t n = (size_t)3 * p.size * p.size;
        const unsigned char *raw = gold_data(&g, t, "F32", n * 4);
        float *out = malloc(n * sizeof *out), *ref = malloc(n * sizeof *ref);
        char err[256];
        if (!raw || img_load_tensor(jstr(m, "image"), &p, out, err, sizeof err)) {
            fprintf(stderr, "  %s: %s\n", t->string, raw ? err : "bad golden tensor");
            failed++;
        } else {
            memcpy(ref, raw, n * sizeof *ref); /* little-endian host */
            double md = 0;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)out[i] - ref[i]);
                if (d > md) md = d;
            }
            printf("# %s: %s crop %d resize %d %s, max abs diff %.3g\n", t->string, jstr(m, "image"), p.size,
                   p.resize, p.interp ? "bicubic" : "bilinear", md);
            if (md > maxd) maxd = md;
        }
        free(out);
        free(ref);
        cJSON_Delete(m);
        cases++;
    }
    gold_close(&g);
    ASSERT(cases >= 3);
    ASSERT_EQ(failed, 0);
    ASSERT(maxd <= 1e-5);
    return 0;
}

/* real photos kept next to the repository (not in it), when present */
TEST(shared_photos) {
    DIR *dir = opendir(SHARED_DIR);
    if (!dir) SKIP("%s not present", SHARED_DIR);
    Gold g;
    if (gold_open(&g)) { closedir(dir); FAIL_AT("cannot read %s", GOLDEN); }
    struct dirent *de;
    int seen = 0, compared = 0, fails = 0;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".jpg")) continue;
        char path[1024], key[600], err[256], hx[17], hb[17], hl[17];
        snprintf(path, sizeof path, "%s/%s", SHARED_DIR, de->d_name);
        snprintf(key, sizeof key, "shared:%s", de->d_name);
        unsigned char *rgb = NULL;
        int w, h;
        seen++;
        if (img_load_rgb8(path, &rgb, &w, &h, err, sizeof err)) {
            fprintf(stderr, "  %s\n", err);
            fails++;
            continue;
        }
        unsigned char *crop = malloc(224 * 224 * 3);
        IrPreprocess pc = pre(224, 248, 1), pl = pre(224, 256, 0);
        fnv_hex(rgb, (size_t)w * h * 3, hx);
        int bad = img_resize_crop_rgb8(rgb, w, h, &pc, crop, err, sizeof err);
        fnv_hex(crop, 224 * 224 * 3, hb);
        bad |= img_resize_crop_rgb8(rgb, w, h, &pl, crop, err, sizeof err);
        fnv_hex(crop, 224 * 224 * 3, hl);
        cJSON *e = gold_meta(&g, key);
        if (bad) {
            fprintf(stderr, "  %s: %s\n", path, err);
            fails++;
        } else if (e) {
            compared++;
            if (w != jint(e, "w") || h != jint(e, "h") || strcmp(hx, jstr(e, "fnv")) ||
                strcmp(hb, jstr(e, "bicubic224")) || strcmp(hl, jstr(e, "bilinear224"))) {
                fprintf(stderr, "  %s: %dx%d %s %s %s, PIL %dx%d %s %s %s\n", path, w, h, hx, hb, hl, jint(e, "w"),
                        jint(e, "h"), jstr(e, "fnv"), jstr(e, "bicubic224"), jstr(e, "bilinear224"));
                fails++;
            }
        }
        cJSON_Delete(e);
        free(crop);
        free(rgb);
    }
    closedir(dir);
    gold_close(&g);
    printf("# %d photos decoded, %d compared with PIL/torchvision hashes\n", seen, compared);
    ASSERT_EQ(fails, 0);
    return 0;
}

/* cut at each point: a clean failure naming the cause, nothing printed */
static int check_truncations(const char *src, const char *expect, const size_t *cuts, int ncuts) {
    size_t len;
    unsigned char *d = slurp(src, &len);
    if (!d) FAIL_AT("cannot read %s", src);
    for (int i = 0; i < ncuts; i++) {
        char path[512], err[256] = "";
        unsigned char *rgb = (unsigned char *)1;
        int w, h;
        long noise;
        if (cuts[i] >= len) continue;
        if (write_temp(d, cuts[i], path, sizeof path)) { free(d); FAIL_AT("cannot write a temporary file"); }
        int rc = load_quietly(path, &rgb, &w, &h, err, sizeof err, &noise);
        unlink(path);
        if (rc != -1 || rgb || noise != 0 || !strstr(err, expect) || strchr(err, '\n')) {
            free(d);
            FAIL_AT("%s cut to %zu bytes: rc %d, rgb %p, %ld bytes printed, message \"%s\"", src, cuts[i], rc,
                    (void *)rgb, noise, err);
        }
        if (i == 3) printf("# %s\n", err);
    }
    free(d);
    return 0;
}

TEST(truncated_jpeg) {
    /* PIL fails on each of these, down to a missing EOI marker */
    const char *files[] = {"examples/images/chelsea.jpg", "examples/images/rocket.jpg"}; /* rocket: progressive */
    for (int f = 0; f < 2; f++) {
        size_t len = file_size(files[f]);
        ASSERT(len > 1000);
        size_t cuts[] = {3, 40, 300, len / 2, len - 2, len - 1};
        if (check_truncations(files[f], "JPEG", cuts, 6)) return 1;
    }
    return 0;
}

TEST(truncated_png) {
    const char *src = "examples/images/coffee.png";
    size_t len = file_size(src);
    unsigned char *full = slurp(src, &len), *a = NULL, *b = NULL;
    ASSERT(full && len > 1000);
    /* cut inside the header or the image data: PIL fails too */
    size_t cuts[] = {12, 40, 300, len / 2, len - 30};
    if (check_truncations(src, "PNG", cuts, 5)) return 1;
    /* only the zlib checksum, CRC and IEND missing: PIL decodes it, so must we */
    int w, h, w2, h2;
    char err[256], path[512];
    ASSERT_EQ(img_load_rgb8(src, &a, &w, &h, err, sizeof err), 0);
    size_t tails[] = {1, 12, 16, 20};
    int fails = 0;
    for (int i = 0; i < 4; i++) {
        if (write_temp(full, len - tails[i], path, sizeof path)) { fails++; break; }
        int rc = img_load_rgb8(path, &b, &w2, &h2, err, sizeof err);
        unlink(path);
        int same = rc == 0 && w == w2 && h == h2 && !memcmp(a, b, (size_t)w * h * 3);
        if (rc) fprintf(stderr, "  cut %zu bytes short: %s\n", tails[i], err);
        else if (!same) fprintf(stderr, "  cut %zu bytes short: pixels differ\n", tails[i]);
        fails += !same;
        free(b);
    }
    free(a);
    free(full);
    ASSERT_EQ(fails, 0);
    return 0;
}

/* the half-way cut names truncation explicitly */
TEST(truncation_is_named) {
    const char *files[] = {"examples/images/chelsea.jpg", "examples/images/coffee.png"};
    const char *want[] = {"truncated JPEG", "truncated PNG"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        unsigned char *d = slurp(files[i], &len), *rgb;
        char path[512], err[256];
        int w, h;
        ASSERT(d);
        ASSERT_EQ(write_temp(d, len / 2, path, sizeof path), 0);
        free(d);
        int rc = img_load_rgb8(path, &rgb, &w, &h, err, sizeof err);
        unlink(path);
        ASSERT_EQ(rc, -1);
        ASSERT_CONTAINS(err, want[i]);
    }
    return 0;
}

/* a flipped byte inside PNG image data: CRC failure, reported as corrupt */
TEST(corrupt_png) {
    size_t len;
    unsigned char *d = slurp("examples/images/coffee.png", &len), *rgb;
    ASSERT(d);
    d[len / 2] ^= 0x5A;
    char path[512], err[256];
    int w, h;
    long noise;
    ASSERT_EQ(write_temp(d, len, path, sizeof path), 0);
    free(d);
    int rc = load_quietly(path, &rgb, &w, &h, err, sizeof err, &noise);
    unlink(path);
    ASSERT_EQ(rc, -1);
    ASSERT(rgb == NULL);
    ASSERT_EQ(noise, 0);
    ASSERT_CONTAINS(err, "corrupt PNG");
    printf("# %s\n", err);
    return 0;
}

/* a complete JPEG with damaged entropy data decodes (with libjpeg's
 * warning swallowed), as PIL decodes it */
TEST(damaged_jpeg_still_decodes) {
    size_t len;
    unsigned char *d = slurp("examples/images/chelsea.jpg", &len), *rgb = NULL;
    ASSERT(d);
    unsigned char *e = malloc(len / 2 + 2);
    memcpy(e, d, len / 2);
    e[len / 2] = 0xFF;
    e[len / 2 + 1] = 0xD9; /* half the scan, then EOI */
    free(d);
    char path[512], err[256];
    int w, h;
    long noise;
    ASSERT_EQ(write_temp(e, len / 2 + 2, path, sizeof path), 0);
    free(e);
    int rc = load_quietly(path, &rgb, &w, &h, err, sizeof err, &noise);
    unlink(path);
    free(rgb);
    if (rc) FAIL_AT("%s", err);
    ASSERT_EQ(noise, 0);
    ASSERT_EQ(w, 451);
    ASSERT_EQ(h, 300);
    return 0;
}

TEST(not_an_image) {
    unsigned char *rgb = (unsigned char *)1;
    int w, h;
    char err[256], path[512];
    ASSERT_EQ(img_load_rgb8("examples/images/README.md", &rgb, &w, &h, err, sizeof err), -1);
    ASSERT(rgb == NULL);
    ASSERT_CONTAINS(err, "not an image");
    ASSERT_EQ(write_temp("", 0, path, sizeof path), 0); /* empty file */
    int rc = img_load_rgb8(path, &rgb, &w, &h, err, sizeof err);
    unlink(path);
    ASSERT_EQ(rc, -1);
    ASSERT_CONTAINS(err, "not an image");
    return 0;
}

TEST(unreadable_path) {
    unsigned char *rgb = (unsigned char *)1;
    int w, h;
    char err[256];
    float t[3 * 8 * 8];
    IrPreprocess p = pre(8, 8, 1);
    ASSERT_EQ(img_load_rgb8("examples/images/no_such_image.jpg", &rgb, &w, &h, err, sizeof err), -1);
    ASSERT(rgb == NULL);
    ASSERT_CONTAINS(err, "no_such_image.jpg");
    ASSERT_CONTAINS(err, strerror(ENOENT));
    ASSERT_EQ(img_load_rgb8("examples/images", &rgb, &w, &h, err, sizeof err), -1);
    ASSERT_CONTAINS(err, strerror(EISDIR));
    ASSERT_EQ(img_load_tensor("examples/images/no_such_image.jpg", &p, t, err, sizeof err), -1);
    ASSERT_CONTAINS(err, strerror(ENOENT));
    return 0;
}

/* torchvision's shorter-side size and the centre crop's rounding */
TEST(resize_geometry) {
    int ow, oh;
    img_resized_size(451, 300, 73, &ow, &oh);
    ASSERT_EQ(ow, 109); /* int(73 * 451 / 300) = int(109.74) */
    ASSERT_EQ(oh, 73);
    img_resized_size(300, 451, 73, &ow, &oh);
    ASSERT_EQ(ow, 73);
    ASSERT_EQ(oh, 109);
    img_resized_size(200, 200, 248, &ow, &oh);
    ASSERT_EQ(ow, 248);
    ASSERT_EQ(oh, 248);
    /* odd margins: round half to even, 7 / 2 = 3.5 -> 4, 5 / 2 = 2.5 -> 2 */
    unsigned char img[12 * 12 * 3], out[5 * 5 * 3];
    for (int i = 0; i < 12 * 12; i++) img[3 * i] = img[3 * i + 1] = img[3 * i + 2] = (unsigned char)i;
    IrPreprocess p = pre(5, 12, 0);
    char err[256];
    ASSERT_EQ(img_resize_crop_rgb8(img, 12, 12, &p, out, err, sizeof err), 0);
    ASSERT_EQ(out[0], 4 * 12 + 4); /* (12 - 5) / 2 = 3.5 -> 4 */
    p = pre(7, 12, 0);
    unsigned char out7[7 * 7 * 3];
    ASSERT_EQ(img_resize_crop_rgb8(img, 12, 12, &p, out7, err, sizeof err), 0);
    ASSERT_EQ(out7[0], 2 * 12 + 2); /* 2.5 -> 2 */
    /* crop larger than the image: zero border, (16 - 12) // 2 = 2 before */
    unsigned char big[16 * 16 * 3];
    p = pre(16, 12, 1);
    ASSERT_EQ(img_resize_crop_rgb8(img, 12, 12, &p, big, err, sizeof err), 0);
    ASSERT_EQ(big[(1 * 16 + 5) * 3], 0);
    ASSERT_EQ(big[(2 * 16 + 2) * 3], 0); /* pixel (0, 0) of the image */
    ASSERT_EQ(big[(2 * 16 + 3) * 3], 1);
    ASSERT_EQ(big[(13 * 16 + 13) * 3], 143);
    ASSERT_EQ(big[(14 * 16 + 13) * 3], 0);
    return 0;
}

/* identical size is a copy; a 1-pixel-high image still resamples */
TEST(resample_edges) {
    unsigned char a[4 * 3 * 3], b[4 * 3 * 3], c[9 * 3];
    char err[256];
    for (int i = 0; i < 36; i++) a[i] = (unsigned char)(i * 7);
    ASSERT_EQ(img_resample_rgb8(a, 4, 3, 4, 3, 1, b, err, sizeof err), 0);
    ASSERT(!memcmp(a, b, sizeof a));
    unsigned char row[5 * 3] = {0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0};
    ASSERT_EQ(img_resample_rgb8(row, 5, 1, 9, 1, 1, c, err, sizeof err), 0);
    ASSERT_EQ(img_resample_rgb8(row, 5, 1, 2, 3, 0, c, err, sizeof err), 0);
    ASSERT_EQ(img_resample_rgb8(row, 5, 1, 0, 3, 0, c, err, sizeof err), -1);
    ASSERT_EQ(img_resample_rgb8(row, 5, 1, 2, 3, 2, c, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "interpolation");
    return 0;
}

TEST(bad_parameters) {
    unsigned char img[4 * 4 * 3] = {0};
    float out[3 * 4 * 4];
    char err[256];
    IrPreprocess p = pre(0, 4, 1);
    ASSERT_EQ(img_preprocess(img, 4, 4, &p, out, err, sizeof err), -1);
    p = pre(4, 4, 5);
    ASSERT_EQ(img_preprocess(img, 4, 4, &p, out, err, sizeof err), -1);
    p = pre(4, 4, 1);
    p.std[1] = 0;
    ASSERT_EQ(img_preprocess(img, 4, 4, &p, out, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "std");
    p = pre(4, 4, 1);
    ASSERT_EQ(img_preprocess(img, 0, 4, &p, out, err, sizeof err), -1);
    p.mean[0] = 0.5f;
    p.std[0] = 0.25f;
    img[0] = 255;
    ASSERT_EQ(img_preprocess(img, 4, 4, &p, out, err, sizeof err), 0);
    ASSERT_NEAR(out[0], 2.0, 0);         /* (1 - 0.5) / 0.25 */
    ASSERT_NEAR(out[1], -2.0, 0);        /* (0 - 0.5) / 0.25 */
    ASSERT_NEAR(out[16], 0.0, 0);        /* green plane: (0 - 0) / 1 */
    return 0;
}

TESTS {
    T(decode_jpeg),
    T(decode_png),
    T(preprocess_u8_golden),
    T(preprocess_f32_golden),
    T(shared_photos),
    T(truncated_jpeg),
    T(truncated_png),
    T(truncation_is_named),
    T(corrupt_png),
    T(damaged_jpeg_still_decodes),
    T(not_an_image),
    T(unreadable_path),
    T(resize_geometry),
    T(resample_edges),
    T(bad_parameters),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
