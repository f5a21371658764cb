/* tests/test_toyworld.c — the toy world generator: the same seed gives
 * byte-identical files, the pixels and labels of a small set hash to a
 * committed value (machine independent: rendering is integer arithmetic),
 * masks are exactly the pixels drawn with the object's colour and pattern,
 * every attribute occurs, the spurious and balanced splits have the promised
 * statistics, and bad options fail without leaving anything behind. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "img.h"
#include "toyworld.h"

/* FNV-1a over the rendered pixels, masks and label lines of seeds below
 * (indices 0..7, 64 px): change them only with a change to the generator. */
#define HASH_UNIFORM 0x1c2a725f807becf9ull
#define HASH_SPURIOUS 0xf90880154178efddull
#define HASH_BALANCED 0x648a6fb6c0c38f9aull

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[n] = 0; *len = (size_t)n; }
    return b;
}

static void rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (!lstat(p, &st) && S_ISDIR(st.st_mode)) rmtree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* number of entries in a directory (-1 if it cannot be read) */
static int nentries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static uint64_t set_hash(const ToyOpts *o, int n) {
    int S = o->size;
    unsigned char *rgb = malloc((size_t)S * S * 3), *mask = malloc((size_t)S * S);
    uint64_t h = 0xcbf29ce484222325ull;
    char line[1024];
    for (int i = 0; i < n; i++) {
        ToyScene s;
        toy_scene(o, i, &s);
        toy_render(&s, 1, rgb, mask);
        toy_label_json(&s, "i", "m", line, sizeof line);
        h = fnv(h, rgb, (size_t)S * S * 3);
        h = fnv(h, mask, (size_t)S * S);
        h = fnv(h, line, strlen(line));
    }
    free(rgb);
    free(mask);
    return h;
}

TEST(same_seed_same_files) {
    char base[] = "/tmp/toyworld_test_XXXXXX", a[256], b[256], pa[512], pb[512], err[512];
    ASSERT(mkdtemp(base));
    ToyOpts o;
    toy_opts_default(&o);
    o.seed = 12345;
    o.count = 8;
    const char *files[] = {"labels.jsonl", "captions.txt", "info.json"};
    for (int fmt = 0; fmt < 2; fmt++) {
        o.format = fmt ? TOY_JPEG : TOY_PNG;
        snprintf(a, sizeof a, "%s/a%d", base, fmt);
        snprintf(b, sizeof b, "%s/b%d", base, fmt);
        if (toy_generate(&o, a, err, sizeof err) || toy_generate(&o, b, err, sizeof err)) { rmtree(base); FAIL_AT("%s", err); }
        for (int i = 0; i < 8; i++) {
            snprintf(pa, sizeof pa, "%s/images/%06d.%s", a, i, fmt ? "jpg" : "png");
            snprintf(pb, sizeof pb, "%s/images/%06d.%s", b, i, fmt ? "jpg" : "png");
            if (!same_file(pa, pb)) { rmtree(base); FAIL_AT("%s and %s differ", pa, pb); }
            snprintf(pa, sizeof pa, "%s/masks/%06d.png", a, i);
            snprintf(pb, sizeof pb, "%s/masks/%06d.png", b, i);
            if (!same_file(pa, pb)) { rmtree(base); FAIL_AT("%s and %s differ", pa, pb); }
        }
        for (int k = 0; k < 3; k++) {
            snprintf(pa, sizeof pa, "%s/%s", a, files[k]);
            snprintf(pb, sizeof pb, "%s/%s", b, files[k]);
            if (!same_file(pa, pb)) { rmtree(base); FAIL_AT("%s and %s differ", pa, pb); }
        }
        snprintf(pa, sizeof pa, "%s/images", a);
        ASSERT_EQ(nentries(pa), 8);
    }
    /* another seed, other pictures */
    o.seed = 12346;
    o.format = TOY_PNG;
    snprintf(b, sizeof b, "%s/c", base);
    if (toy_generate(&o, b, err, sizeof err)) { rmtree(base); FAIL_AT("%s", err); }
    snprintf(pa, sizeof pa, "%s/a0/images/000000.png", base);
    snprintf(pb, sizeof pb, "%s/c/images/000000.png", base);
    int differ = !same_file(pa, pb);
    rmtree(base);
    ASSERT(differ);
    return 0;
}

TEST(committed_hash) {
    ToyOpts o;
    toy_opts_default(&o);
    o.seed = 12345;
    uint64_t h = set_hash(&o, 8);
    if (h != HASH_UNIFORM) FAIL_AT("uniform: hash 0x%016llxull, expected 0x%016llxull", (unsigned long long)h, HASH_UNIFORM);
    o.split = TOY_SPLIT_SPURIOUS;
    o.spurious_ppm = 950000;
    h = set_hash(&o, 8);
    if (h != HASH_SPURIOUS) FAIL_AT("spurious: hash 0x%016llxull, expected 0x%016llxull", (unsigned long long)h, HASH_SPURIOUS);
    o.split = TOY_SPLIT_BALANCED;
    h = set_hash(&o, 8);
    if (h != HASH_BALANCED) FAIL_AT("balanced: hash 0x%016llxull, expected 0x%016llxull", (unsigned long long)h, HASH_BALANCED);
    /* an image depends on (seed, index) only, not on the count */
    ToyScene s1, s2;
    o.count = 3;
    toy_scene(&o, 2, &s1);
    o.count = 1000;
    toy_scene(&o, 2, &s2);
    ASSERT(!memcmp(&s1, &s2, sizeof s1));
    return 0;
}

TEST(files_hold_the_rendered_pixels) {
    char base[] = "/tmp/toyworld_test_XXXXXX", dir[256], p[512], err[512];
    ASSERT(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/set", base);
    ToyOpts o;
    toy_opts_default(&o);
    o.seed = 99;
    o.count = 6;
    o.size = 48;
    o.split = TOY_SPLIT_SPURIOUS;
    o.spurious_ppm = 900000;
    if (toy_generate(&o, dir, err, sizeof err)) { rmtree(base); FAIL_AT("%s", err); }
    size_t nl = 0, nc = 0;
    snprintf(p, sizeof p, "%s/labels.jsonl", dir);
    char *labels = (char *)slurp(p, &nl);
    snprintf(p, sizeof p, "%s/captions.txt", dir);
    char *caps = (char *)slurp(p, &nc);
    int S = o.size, bad = 0;
    unsigned char *rgb = malloc((size_t)S * S * 3), *mask = malloc((size_t)S * S);
    char *lp = labels, *cp = caps;
    for (int i = 0; i < o.count && !bad; i++) {
        ToyScene s;
        toy_scene(&o, i, &s);
        toy_render(&s, 1, rgb, mask);
        unsigned char *f = NULL, *m = NULL;
        int w = 0, h = 0, mw = 0, mh = 0;
        snprintf(p, sizeof p, "%s/images/%06d.png", dir, i);
        bad |= img_load_rgb8(p, &f, &w, &h, err, sizeof err) || w != S || h != S || memcmp(f, rgb, (size_t)S * S * 3);
        snprintf(p, sizeof p, "%s/masks/%06d.png", dir, i);
        bad |= img_load_rgb8(p, &m, &mw, &mh, err, sizeof err) || mw != S || mh != S;
        for (int k = 0; !bad && k < S * S; k++) bad |= m[3 * k] != mask[k];
        free(f);
        free(m);
        char want[1024], img[64], msk[64];
        snprintf(img, sizeof img, "images/%06d.png", i);
        snprintf(msk, sizeof msk, "masks/%06d.png", i);
        toy_label_json(&s, img, msk, want, sizeof want);
        size_t L = strlen(want);
        bad |= !lp || strncmp(lp, want, L) || lp[L] != '\n';
        if (!bad) lp += L + 1;
        toy_caption(&s, want, sizeof want);
        L = strlen(want);
        bad |= !cp || strncmp(cp, want, L) || cp[L] != '\n';
        if (!bad) cp += L + 1;
        if (bad) fprintf(stderr, "  image %d: %s\n", i, err);
    }
    int tail_ok = lp && cp && !*lp && !*cp;
    free(labels);
    free(caps);
    free(rgb);
    free(mask);
    rmtree(base);
    ASSERT(!bad);
    ASSERT(tail_ok);
    return 0;
}

/* The mask is exactly where the object was drawn: with the object, a mask
 * pixel has the colour or its pattern shade as the pattern rule says, every
 * other pixel is the background drawn without the object. */
TEST(masks_are_the_object) {
    static const int sizes[] = {16, 37, 64, 128, 224};
    for (int si = 0; si < 5; si++) {
        ToyOpts o;
        toy_opts_default(&o);
        o.seed = 2024 + (uint64_t)si;
        o.size = sizes[si];
        int S = o.size, n = S <= 64 ? 200 : 40;
        unsigned char *with = malloc((size_t)S * S * 3), *without = malloc((size_t)S * S * 3), *mask = malloc((size_t)S * S);
        for (int i = 0; i < n; i++) {
            ToyScene s;
            toy_scene(&o, i, &s);
            toy_render(&s, 1, with, mask);
            toy_render(&s, 0, without, NULL);
            int area = 0, lined = 0, x0 = S, y0 = S, x1 = 0, y1 = 0, shade = 0, asym = 0;
            unsigned char pat[3], line[3];
            toy_pattern_rgb(s.colour, pat);
            toy_outline_rgb(s.colour, line);
            const unsigned char *col = toy_colour_rgb[s.colour];
            ASSERT(memcmp(pat, col, 3) && memcmp(line, col, 3) && memcmp(line, pat, 3));
            int w = S / 32 > 1 ? S / 32 : 1;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    const unsigned char *p = with + 3 * (y * S + x), *q = without + 3 * (y * S + x);
                    int in = mask[y * S + x];
                    if (in != 0 && in != 255) FAIL_AT("mask value %d", in);
                    if (!in) {
                        if (memcmp(p, q, 3)) FAIL_AT("size %d image %d: pixel (%d, %d) outside the mask changed", S, i, x, y);
                        continue;
                    }
                    if (!toy_inside(&s, x, y)) FAIL_AT("mask pixel outside the shape");
                    unsigned char want[3];
                    toy_object_rgb(&s, x, y, want);
                    if (memcmp(p, want, 3)) FAIL_AT("size %d image %d: object pixel (%d, %d) has the wrong colour", S, i, x, y);
                    if (memcmp(p, col, 3) && memcmp(p, pat, 3) && memcmp(p, line, 3))
                        FAIL_AT("object pixel neither colour, shade nor outline");
                    /* the outline: exactly the object's pixels within w of a pixel outside the mask */
                    int near = 0;
                    for (int dy = -w; dy <= w; dy++)
                        for (int dx = -w; dx <= w; dx++)
                            near |= x + dx < 0 || y + dy < 0 || x + dx >= S || y + dy >= S || !mask[(y + dy) * S + x + dx];
                    if (near != !memcmp(p, line, 3))
                        FAIL_AT("size %d image %d: pixel (%d, %d) %s the outline", S, i, x, y, near ? "off" : "on");
                    shade += !memcmp(p, pat, 3);
                    lined += near;
                    area++;
                    if (x < x0) x0 = x;
                    if (y < y0) y0 = y;
                    if (x + 1 > x1) x1 = x + 1;
                    if (y + 1 > y1) y1 = y + 1;
                    /* circle, square, diamond, cross: mirror symmetric about x = cx and y = cy */
                    if (s.shape != 2 && s.shape != 4) {
                        int mx = 2 * s.cx - 1 - x, my = 2 * s.cy - 1 - y;
                        asym |= !mask[y * S + mx] || !mask[my * S + x];
                    }
                }
            ASSERT(area > 0);
            ASSERT_EQ(area, s.area);
            ASSERT_EQ(x0, s.bbox[0]);
            ASSERT_EQ(y0, s.bbox[1]);
            ASSERT_EQ(x1, s.bbox[2]);
            ASSERT_EQ(y1, s.bbox[3]);
            ASSERT(!asym);
            /* inside the image with a margin of size / 16 */
            ASSERT(x0 >= S / 16 && y0 >= S / 16 && x1 <= S - S / 16 && y1 <= S - S / 16);
            ASSERT(x0 >= s.cx - s.r && x1 <= s.cx + s.r && y0 >= s.cy - s.r && y1 <= s.cy + s.r);
            /* plain: no shade; striped, dotted, checkered: shade on 5..65 % of a large enough inside */
            int inner = area - lined;
            ASSERT(lined > 0 && inner >= 0);
            if (s.pattern == 0) ASSERT_EQ(shade, 0);
            else if (inner >= 150 && (shade * 20 < inner || shade * 20 > 13 * inner))
                FAIL_AT("size %d image %d: %s with %d of %d pixels shaded", S, i, toy_pattern_names[s.pattern], shade, inner);
            /* the circle's area is pi r^2 within 10 % (r >= 4) */
            if (s.shape == 0 && s.r >= 4 && !(fabs(area - 3.14159265 * s.r * s.r) < 0.1 * 3.14159265 * s.r * s.r))
                FAIL_AT("size %d image %d: circle of radius %d has %d pixels", S, i, s.r, area);
            if (s.shape == 1) ASSERT(area > 0 && area <= (2 * s.r) * (2 * s.r));
        }
        free(with);
        free(without);
        free(mask);
    }
    return 0;
}

TEST(attribute_coverage) {
    ToyOpts o;
    toy_opts_default(&o);
    o.seed = 5;
    int shapes[TOY_NSHAPES] = {0}, colours[TOY_NCOLOURS] = {0}, patterns[TOY_NPATTERNS] = {0}, bgs[TOY_NBACKGROUNDS] = {0};
    int n = 2400, rmin = 1000, rmax = 0;
    for (int i = 0; i < n; i++) {
        ToyScene s;
        toy_scene(&o, i, &s);
        shapes[s.shape]++;
        colours[s.colour]++;
        patterns[s.pattern]++;
        bgs[s.background]++;
        if (s.r < rmin) rmin = s.r;
        if (s.r > rmax) rmax = s.r;
        ASSERT_EQ(s.klass, -1);
    }
    for (int k = 0; k < TOY_NSHAPES; k++) ASSERT(shapes[k] > n / TOY_NSHAPES * 8 / 10);
    for (int k = 0; k < TOY_NCOLOURS; k++) ASSERT(colours[k] > n / TOY_NCOLOURS * 8 / 10);
    for (int k = 0; k < TOY_NPATTERNS; k++) ASSERT(patterns[k] > n / TOY_NPATTERNS * 8 / 10);
    for (int k = 0; k < TOY_NBACKGROUNDS; k++) ASSERT(bgs[k] > n / TOY_NBACKGROUNDS * 8 / 10);
    ASSERT_EQ(rmin, 64 / 4);
    ASSERT_EQ(rmax, 3 * 64 / 8);

    /* spurious: the domain agrees with the class with probability P */
    static const int ppm[] = {0, 950000, 1000000};
    for (int t = 0; t < 3; t++) {
        o.split = TOY_SPLIT_SPURIOUS;
        o.spurious_ppm = ppm[t];
        int agree = 0, groups[4] = {0};
        n = 8000;
        for (int i = 0; i < n; i++) {
            ToyScene s;
            toy_scene(&o, i, &s);
            ASSERT(s.klass == 0 || s.klass == 1);
            ASSERT(s.domain == 0 || s.domain == 1);
            ASSERT(s.background != 0);                          /* no sky */
            ASSERT_EQ(s.domain, s.background == 2);             /* water, or land: grass / sand */
            ASSERT_EQ(s.klass, s.colour % 2);                   /* B: orange, green, purple, black */
            agree += s.klass == s.domain;
            groups[2 * s.klass + s.domain]++;
        }
        double p = (double)agree / n;
        ASSERT_NEAR(p, ppm[t] / 1e6, 0.01);
        if (ppm[t] == 950000) for (int g = 0; g < 4; g++) ASSERT(groups[g] > 0);
    }
    /* balanced: every group the same size */
    o.split = TOY_SPLIT_BALANCED;
    int groups[4] = {0}, water = 0, sand = 0;
    for (int i = 0; i < 400; i++) {
        ToyScene s;
        toy_scene(&o, i, &s);
        groups[2 * s.klass + s.domain]++;
        water += s.background == 2;
        sand += s.background == 3;
        ASSERT_EQ(s.domain, s.background == 2);
    }
    for (int g = 0; g < 4; g++) ASSERT_EQ(groups[g], 100);
    ASSERT_EQ(water, 200);
    ASSERT(sand > 70 && sand < 130);
    return 0;
}

TEST(captions_and_labels) {
    ToyScene s = {.index = 3, .size = 64, .shape = 2, .colour = 0, .pattern = 1, .background = 1, .cx = 30, .cy = 31, .r = 10,
                  .klass = -1, .domain = -1, .bbox = {20, 21, 40, 39}, .area = 250};
    char b[1024];
    toy_caption(&s, b, sizeof b);
    ASSERT_STR_EQ(b, "a red striped triangle on grass");
    s.colour = 1;
    s.pattern = 0;
    s.shape = 4;
    s.background = 0;
    toy_caption(&s, b, sizeof b);
    ASSERT_STR_EQ(b, "an orange plain star in the sky");
    toy_label_json(&s, "images/000003.png", "masks/000003.png", b, sizeof b);
    ASSERT_STR_EQ(b, "{\"index\": 3, \"image\": \"images/000003.png\", \"mask\": \"masks/000003.png\", \"shape\": \"star\", "
                     "\"colour\": \"orange\", \"pattern\": \"plain\", \"background\": \"sky\", \"x\": 30, \"y\": 31, \"r\": 10, "
                     "\"bbox\": [20, 21, 40, 39], \"area\": 250, \"caption\": \"an orange plain star in the sky\"}");
    s.klass = 1;
    s.domain = 0;
    s.background = 3;
    toy_label_json(&s, "a", "b", b, sizeof b);
    ASSERT_CONTAINS(b, "\"class\": 1, \"class_name\": \"B\", \"domain\": \"land\", \"group\": 2}");
    return 0;
}

TEST(jpeg_output) {
    char base[] = "/tmp/toyworld_test_XXXXXX", dir[256], p[512], err[512];
    ASSERT(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/j/", base); /* a trailing slash is fine */
    ToyOpts o;
    toy_opts_default(&o);
    o.seed = 3;
    o.count = 2;
    o.format = TOY_JPEG;
    if (toy_generate(&o, dir, err, sizeof err)) { rmtree(base); FAIL_AT("%s", err); }
    ToyScene s;
    toy_scene(&o, 1, &s);
    unsigned char *rgb = malloc(64 * 64 * 3), *f = NULL;
    toy_render(&s, 1, rgb, NULL);
    int w = 0, h = 0;
    snprintf(p, sizeof p, "%s/images/000001.jpg", dir);
    int rc = img_load_rgb8(p, &f, &w, &h, err, sizeof err);
    double d = 0;
    for (int k = 0; !rc && k < 64 * 64 * 3; k++) d += abs((int)f[k] - rgb[k]);
    free(f);
    free(rgb);
    snprintf(p, sizeof p, "%s/masks/000001.png", dir);
    int mask_ok = access(p, R_OK) == 0;
    rmtree(base);
    if (rc) FAIL_AT("%s", err);
    ASSERT_EQ(w, 64);
    ASSERT_EQ(h, 64);
    ASSERT(mask_ok);
    ASSERT(d / (64 * 64 * 3) < 6); /* quality 95 */
    return 0;
}

TEST(bad_options_leave_nothing) {
    char base[] = "/tmp/toyworld_test_XXXXXX", dir[256], err[512];
    ASSERT(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/out", base);
    ToyOpts o;
    toy_opts_default(&o);
    o.count = 0;
    ASSERT_EQ(toy_generate(&o, dir, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "count must be");
    o.count = 2;
    o.size = 8;
    ASSERT_EQ(toy_generate(&o, dir, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "size must be");
    o.size = 64;
    o.format = TOY_JPEG;
    o.quality = 0;
    ASSERT_EQ(toy_generate(&o, dir, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "quality");
    o.format = TOY_PNG;
    o.quality = 95;
    o.split = TOY_SPLIT_SPURIOUS;
    o.spurious_ppm = 1500000;
    ASSERT_EQ(toy_generate(&o, dir, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "probability");
    ASSERT_EQ(nentries(base), 0);
    /* a missing parent directory */
    o.split = TOY_SPLIT_UNIFORM;
    char deep[300];
    snprintf(deep, sizeof deep, "%s/no/such/out", base);
    ASSERT_EQ(toy_generate(&o, deep, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "no/such/out");
    ASSERT_EQ(nentries(base), 0);
    /* an existing, non-empty directory is left alone; an empty one is filled */
    ASSERT(!mkdir(dir, 0777));
    char f[400];
    snprintf(f, sizeof f, "%s/keep.txt", dir);
    FILE *k = fopen(f, "w");
    ASSERT(k);
    fputs("keep\n", k);
    fclose(k);
    int rc = toy_generate(&o, dir, err, sizeof err);
    int kept = nentries(dir) == 1 && nentries(base) == 1;
    unlink(f);
    int rc2 = toy_generate(&o, dir, err, sizeof err);
    int filled = nentries(dir) == 5 && nentries(base) == 1;
    /* a file in the way */
    snprintf(f, sizeof f, "%s/file", base);
    k = fopen(f, "w");
    if (k) fclose(k);
    int rc3 = toy_generate(&o, f, err, sizeof err);
    rmtree(base);
    ASSERT_EQ(rc, -1);
    ASSERT(kept);
    ASSERT_EQ(rc2, 0);
    ASSERT(filled);
    ASSERT_EQ(rc3, -1);
    ASSERT_CONTAINS(err, "not a directory");
    return 0;
}

TESTS {
    T(same_seed_same_files), T(committed_hash), T(files_hold_the_rendered_pixels), T(masks_are_the_object),
    T(attribute_coverage),   T(captions_and_labels), T(jpeg_output), T(bad_options_leave_nothing),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
