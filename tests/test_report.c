/* tests/test_report.c — the HTML report (runtime/app/report.c): escaping and
 * base64 against known strings (RFC 4648's vectors, hostile markup, invalid
 * UTF-8), a report of a made-up run directory (pictures inlined byte for
 * byte, JSON results and markdown as tables, captions from a manifest, the
 * content security policy's hash matching the page's script), data sets,
 * excluded names and large files left out with a note, and every
 * kind of bad input failing with a message and no file left behind.
 *
 * `test_report --png-stats FILE` prints "W H COLOURS INK" for a PNG
 * (distinct colours; the fraction of pixels unlike the top-left one): the
 * browser test (tests/cli/report.sh) checks its screenshot with it. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vit.h"

/* ---- helpers ---- */

static char tmpdir[64];

static void mkfile(const char *rel, const void *data, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    FILE *f = fopen(p, "wb");
    if (f) { fwrite(data, 1, n, f); fclose(f); }
}
static void mktext(const char *rel, const char *s) { mkfile(rel, s, strlen(s)); }
static void mkdir_rel(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    mkdir(p, 0755);
}
static char *path_of(const char *rel) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, rel);
    return p[k];
}
static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (!lstat(p, &st) && S_ISDIR(st.st_mode)) rm_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}
static int fresh(void) {
    if (tmpdir[0]) rm_tree(tmpdir);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_reportXXXXXX");
    return mkdtemp(tmpdir) != NULL;
}
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    if (len) *len = (size_t)n;
    fclose(f);
    return s;
}
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}
/* entries of a directory (hidden ones too, but . and ..) */
static int entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}
static void make_png(const char *rel, int w, int h, unsigned char shade) {
    vit_ctx *ctx = vit_ctx_new();
    vit_picture *p = vit_picture_new(w, h);
    for (int i = 0; i < w * h * 3; i++) p->rgb[i] = (unsigned char)(shade + i % 7 * 20);
    vit_picture_write_png(ctx, p, path_of(rel));
    vit_picture_free(p);
    vit_ctx_free(ctx);
}

/* SHA-256 (FIPS 180-4), for the content security policy's script hash. */
static void sha256(const unsigned char *m, size_t n, unsigned char out[32]) {
    static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t total = (n + 9 + 63) / 64 * 64;
    unsigned char *buf = calloc(total, 1);
    memcpy(buf, m, n);
    buf[n] = 0x80;
    for (int i = 0; i < 8; i++) buf[total - 1 - i] = (unsigned char)((uint64_t)n * 8 >> (8 * i));
#define ROR(x, r) ((x) >> (r) | (x) << (32 - (r)))
    for (size_t blk = 0; blk < total; blk += 64) {
        uint32_t w[64], a[8];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)buf[blk + 4 * i] << 24 | (uint32_t)buf[blk + 4 * i + 1] << 16 |
                   (uint32_t)buf[blk + 4 * i + 2] << 8 | buf[blk + 4 * i + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ w[i - 15] >> 3;
            uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ w[i - 2] >> 10;
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        memcpy(a, h, sizeof a);
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) + K[i] + w[i];
            uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
            memmove(a + 1, a, 7 * sizeof *a);
            a[4] += t1;
            a[0] = t1 + t2;
        }
        for (int i = 0; i < 8; i++) h[i] += a[i];
    }
#undef ROR
    for (int i = 0; i < 32; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
    free(buf);
}

/* ---- escaping and base64 ---- */

TEST(escape_markup_and_quotes) {
    char *s = vit_html_escape("<img src=x onerror=\"alert('1')\"> & co");
    ASSERT_STR_EQ(s, "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; co");
    free(s);
    s = vit_html_escape("&amp;");
    ASSERT_STR_EQ(s, "&amp;amp;");
    free(s);
    s = vit_html_escape("");
    ASSERT_STR_EQ(s, "");
    free(s);
    return 0;
}

TEST(escape_keeps_utf8_replaces_bad_bytes) {
    char *s = vit_html_escape("caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80\ttab\nline");
    ASSERT_STR_EQ(s, "caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80\ttab\nline");
    free(s);
    /* a lone continuation byte, 0xFF, an overlong '/', a surrogate, a cut sequence, control bytes */
    s = vit_html_escape("a\x80" "b\xFF" "c\xC0\xAF" "d\xED\xA0\x80" "e\x01\x1B\x7F" "f\xE6\x97");
    ASSERT_STR_EQ(s, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                     "e\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "f\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
    return 0;
}

TEST(base64_rfc4648_vectors) {
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *s = vit_base64_encode(in[i], strlen(in[i]));
        ASSERT_STR_EQ(s, want[i]);
        free(s);
    }
    return 0;
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

TEST(base64_round_trips_every_byte) {
    unsigned char d[256 + 2], back[260];
    for (int i = 0; i < 258; i++) d[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 256; n <= 258; n++) {
        char *s = vit_base64_encode(d, n);
        ASSERT_EQ(strlen(s), (n + 2) / 3 * 4);
        size_t m = 0;
        for (size_t i = 0; s[i]; i += 4) {
            unsigned v = 0;
            int pad = 0;
            for (int k = 0; k < 4; k++) {
                int x = s[i + k] == '=' ? (pad++, 0) : b64val(s[i + k]);
                ASSERT(x >= 0);
                v = v << 6 | (unsigned)x;
            }
            for (int k = 0; k < 3 - pad; k++) back[m++] = (unsigned char)(v >> (16 - 8 * k));
        }
        ASSERT_EQ(m, n);
        ASSERT(!memcmp(back, d, n));
        free(s);
    }
    return 0;
}

/* ---- a report of a made-up run ---- */

static const char *hostile = "<img src=x onerror=alert(1)>.png";

static void make_run(void) {
    mkdir_rel("run");
    mkdir_rel("run/sub");
    make_png("run/b_grid.png", 40, 30, 10);
    make_png("run/a_heat.png", 16, 24, 90);
    char rel[256];
    snprintf(rel, sizeof rel, "run/sub/%s", hostile);
    make_png(rel, 8, 8, 200);
    mktext("run/score.json", "{\"components\": [\"L1.H0\", \"L1.H1\", \"L2.H0\"],"
                             " \"scores\": {\"colour\": [0.5, 0.25, 0.125], \"shape\": [1e-7, 2, 3]},"
                             " \"validation\": {\"within\": 0.75}}");
    mktext("run/describe.json", "{\"components\": [{\"index\": 0, \"name\": \"L1.H0\", \"descriptions\":"
                                " [{\"text\": \"a <b>red</b> thing\", \"variance\": 0.125}]}], \"rank\": 3}");
    mktext("run/sub/table.md", "# Accuracy\n\n<!-- eval:x -->\n| model | worst group |\n|---|--:|\n"
                               "| toy \\| small | **0.75** |\n\nText with `code` and <script>alert(2)</script>\n");
    mktext("run/notes.txt", "not shown");
    mktext("run/.hidden.json", "{not json at all");
    mktext("run/captions.tsv", "b_grid.png\tRetrieval grid <top 20>\nscore.json\tScores\n");
}

TEST(report_of_a_run) {
    ASSERT(fresh());
    make_run();
    vit_ctx *ctx = vit_ctx_new();
    const char *dirs[] = {path_of("run")};
    vit_report_opts o = {.title = "Run \"A\" <1>"};
    vit_report_stats st;
    ASSERT_EQ(vit_report_write(ctx, dirs, 1, &o, path_of("r.html"), &st), VIT_OK);
    ASSERT_EQ(st.images, 3);
    ASSERT_EQ(st.json, 2);
    ASSERT_EQ(st.markdown, 1);
    size_t len;
    char *h = slurp(path_of("r.html"), &len);
    ASSERT(h);
    ASSERT_EQ(st.bytes, len);
    ASSERT_CONTAINS(h, "<title>Run &quot;A&quot; &lt;1&gt;</title>");
    /* pictures: byte for byte, with their size; only data: sources */
    size_t n;
    char *png = slurp(path_of("run/b_grid.png"), &n), *b64 = vit_base64_encode(png, n), want[64000];
    snprintf(want, sizeof want, "src=\"data:image/png;base64,%s\" width=\"40\" height=\"30\"", b64);
    ASSERT_CONTAINS(h, want);
    free(png);
    free(b64);
    ASSERT_EQ(count(h, "<img "), 3);
    ASSERT_EQ(count(h, "src=\"data:image/png;base64,"), 3);
    ASSERT_EQ(count(h, "src=\""), 3);
    ASSERT_EQ(count(h, "http:") + count(h, "https:"), 0);
    /* manifest: its files first, its captions; then the rest in byte order */
    const char *g = strstr(h, "<h2 id=\"s0\">"), *p1 = strstr(g, "Retrieval grid &lt;top 20&gt;"),
               *p2 = strstr(g, ">Scores <span"), *p3 = strstr(g, "alt=\"a_heat.png\""), *p4 = strstr(g, "describe.json");
    ASSERT(p1 && p2 && p3 && p4 && p1 < p2 && p2 < p3 && p3 < p4);
    ASSERT(!strstr(h, "not shown") && !strstr(h, "hidden"));
    /* hostile names and texts are text, never markup; one script only */
    ASSERT(!strstr(h, "<img src=x"));
    ASSERT_CONTAINS(h, "&lt;img src=x onerror=alert(1)&gt;.png");
    ASSERT_CONTAINS(h, "a &lt;b&gt;red&lt;/b&gt; thing");
    ASSERT_CONTAINS(h, "&lt;script&gt;alert(2)&lt;/script&gt;");
    ASSERT_EQ(count(h, "<script"), 1);
    /* JSON: parallel lists as columns, records as rows, scalars as key / value */
    ASSERT_CONTAINS(h, "<th>#</th><th>components</th><th>scores.colour</th><th>scores.shape</th>");
    ASSERT_CONTAINS(h, "<td>L1.H1</td><td class=\"n\">0.25</td><td class=\"n\">2</td>");
    ASSERT_CONTAINS(h, "<td class=\"n\">1e-07</td>");
    ASSERT_CONTAINS(h, "<tr><th>within</th><td class=\"n\">0.75</td></tr>");
    ASSERT_CONTAINS(h, "<th>index</th><th>name</th><th>descriptions</th>");
    ASSERT_CONTAINS(h, "text: a &lt;b&gt;red&lt;/b&gt; thing, variance: 0.125");
    /* markdown: heading, table without its separator row, an escaped bar, bold, code; comments dropped */
    ASSERT_CONTAINS(h, "<h4 class=\"mh\">Accuracy</h4>");
    ASSERT_CONTAINS(h, "<tr><th>model</th><th>worst group</th></tr><tr><td>toy | small</td><td><strong>0.75</strong></td></tr>");
    ASSERT_CONTAINS(h, "<code>code</code>");
    ASSERT(!strstr(h, "eval:x") && !strstr(h, "---"));
    /* table of contents: both sections, every item */
    ASSERT_EQ(count(h, "<a href=\"#s0-"), 4);
    ASSERT_EQ(count(h, "<a href=\"#s1-"), 2);
    ASSERT_CONTAINS(h, "<h2 id=\"s1\">");
    /* the policy's hash is the script's */
    const char *s0 = strstr(h, "<script>") + 8, *s1 = strstr(s0, "</script>"), *pol = strstr(h, "'sha256-");
    ASSERT(s0 && s1 && pol);
    unsigned char dig[32];
    sha256((const unsigned char *)s0, (size_t)(s1 - s0), dig);
    char *hb = vit_base64_encode(dig, 32), wantpol[80];
    snprintf(wantpol, sizeof wantpol, "'sha256-%s'", hb);
    ASSERT(!strncmp(pol, wantpol, strlen(wantpol)));
    free(hb);
    free(h);
    /* no temporary left beside it */
    ASSERT_EQ(entries(tmpdir), 2);
    vit_ctx_free(ctx);
    return 0;
}

TEST(sha256_known_vector) {
    unsigned char d[32];
    sha256((const unsigned char *)"abc", 3, d);
    char *s = vit_base64_encode(d, 32);
    ASSERT_STR_EQ(s, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="); /* FIPS 180-2 B.1 */
    free(s);
    return 0;
}

TEST(max_images_and_long_tables) {
    ASSERT(fresh());
    mkdir_rel("d");
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "d/%d.png", i);
        make_png(rel, 4, 4, (unsigned char)(i * 40));
    }
    char *big = malloc(700 * 8 + 64);
    strcpy(big, "{\"x\": [");
    for (int i = 0; i < 700; i++) sprintf(big + strlen(big), "%s%d", i ? "," : "", i);
    strcat(big, "]}");
    mktext("d/long.json", big);
    free(big);
    vit_ctx *ctx = vit_ctx_new();
    const char *dirs[] = {path_of("d")};
    vit_report_opts o = {.max_images = 2};
    vit_report_stats st;
    ASSERT_EQ(vit_report_write(ctx, dirs, 1, &o, path_of("r.html"), &st), VIT_OK);
    ASSERT_EQ(st.images, 2);
    ASSERT_EQ(st.hidden, 3);
    char *h = slurp(path_of("r.html"), NULL);
    ASSERT_CONTAINS(h, "3 more pictures in this directory not shown");
    ASSERT_CONTAINS(h, "<td class=\"n\">499</td>");
    ASSERT(!strstr(h, "<td class=\"n\">500</td>"));
    ASSERT_CONTAINS(h, "&hellip; 200 more rows");
    free(h);
    vit_ctx_free(ctx);
    return 0;
}

TEST(data_sets_excludes_and_large_files) {
    ASSERT(fresh());
    mkdir_rel("d");
    mkdir_rel("d/data");
    mkdir_rel("d/data/images");
    mkdir_rel("d/idx");
    make_png("d/data/images/0.png", 4, 4, 0);
    mktext("d/data/labels.jsonl", "{\"image\": \"images/0.png\"}\n{}\n{}\n");
    mktext("d/idx/shard-00000.json", "{\"a\": 1}");
    mktext("d/idx/index.json", "{\"b\": 2}");
    make_png("d/keep.png", 4, 4, 0);
    char *big = malloc(9u << 20);
    memset(big, ' ', 9u << 20);
    big[0] = '[';
    big[(9u << 20) - 1] = ']';
    mkfile("d/big.json", big, 9u << 20);
    free(big);
    vit_ctx *ctx = vit_ctx_new();
    const char *dirs[] = {path_of("d")}, *excl[] = {"shard-*"};
    vit_report_opts o = {.exclude = excl, .nexclude = 1};
    vit_report_stats st;
    ASSERT_EQ(vit_report_write(ctx, dirs, 1, &o, path_of("r.html"), &st), VIT_OK);
    ASSERT_EQ(st.images, 1);
    ASSERT_EQ(st.json, 1);
    ASSERT_EQ(st.skipped, 1);
    char *h = slurp(path_of("r.html"), NULL);
    ASSERT_CONTAINS(h, "A data set of 3 labelled images (labels.jsonl): not shown.");
    ASSERT_CONTAINS(h, "big.json: 9.4 MB, larger than 8 MB: not shown.");
    ASSERT_CONTAINS(h, "index.json");
    ASSERT(!strstr(h, "shard-00000"));
    ASSERT_EQ(count(h, "<img "), 1);
    free(h);
    /* a data set given on the command line is shown */
    const char *ds[] = {path_of("d/data")};
    ASSERT_EQ(vit_report_write(ctx, ds, 1, NULL, path_of("r.html"), &st), VIT_OK);
    ASSERT_EQ(st.images, 1);
    vit_ctx_free(ctx);
    return 0;
}

/* ---- bad input: an error with a message, nothing written ---- */

static int fails(const char *dir, const char *want) {
    vit_ctx *ctx = vit_ctx_new();
    const char *dirs[] = {dir};
    int before = entries(tmpdir);
    int rc = vit_report_write(ctx, dirs, 1, NULL, path_of("out.html"), NULL);
    int ok = rc != VIT_OK && strstr(vit_last_error(ctx), want) && entries(tmpdir) == before;
    if (!ok) fprintf(stderr, "  rc %d, message '%s', want '%s', entries %d -> %d\n", rc, vit_last_error(ctx), want,
                     before, entries(tmpdir));
    vit_ctx_free(ctx);
    return ok;
}

TEST(bad_input) {
    ASSERT(fresh());
    ASSERT(fails(path_of("missing"), "No such file or directory"));
    mktext("file.json", "{}");
    ASSERT(fails(path_of("file.json"), "not a directory"));
    mkdir_rel("empty");
    ASSERT(fails(path_of("empty"), "no PNG, JPEG, JSON or markdown files to report"));
    mktext("empty/notes.txt", "nothing to show");
    ASSERT(fails(path_of("empty"), "no PNG, JPEG, JSON or markdown files to report"));
    mkdir_rel("badpng");
    mktext("badpng/broken.png", "\x89PNG\r\n\x1a\nthis is not a picture");
    ASSERT(fails(path_of("badpng"), "broken.png: not a readable PNG or JPEG picture"));
    mkdir_rel("badjpg");
    mktext("badjpg/x.jpg", "");
    ASSERT(fails(path_of("badjpg"), "x.jpg: not a readable PNG or JPEG picture"));
    mkdir_rel("badjson");
    make_png("badjson/ok.png", 4, 4, 0);
    mktext("badjson/r.json", "{\"a\": [1, 2,");
    ASSERT(fails(path_of("badjson"), "r.json: not valid JSON"));
    if (geteuid() != 0) { /* root reads anything */
        mkdir_rel("noread");
        mktext("noread/a.md", "# x\n");
        chmod(path_of("noread/a.md"), 0);
        ASSERT(fails(path_of("noread"), "a.md: Permission denied"));
    }
    /* an output path that cannot be written */
    vit_ctx *ctx = vit_ctx_new();
    const char *dirs[] = {path_of("badjson")};
    mktext("badjson/r.json", "{}");
    ASSERT(vit_report_write(ctx, dirs, 1, NULL, path_of("no/such/dir/r.html"), NULL) != VIT_OK);
    ASSERT_CONTAINS(vit_last_error(ctx), "no/such/dir/r.html");
    ASSERT(vit_report_write(ctx, dirs, 0, NULL, path_of("r.html"), NULL) != VIT_OK);
    vit_ctx_free(ctx);
    rm_tree(tmpdir);
    return 0;
}

TESTS {T(escape_markup_and_quotes), T(escape_keeps_utf8_replaces_bad_bytes), T(base64_rfc4648_vectors),
       T(base64_round_trips_every_byte), T(sha256_known_vector), T(report_of_a_run), T(max_images_and_long_tables),
       T(data_sets_excludes_and_large_files), T(bad_input)};

/* "W H COLOURS INK" of a PNG (see the header). */
static int png_stats(const char *path) {
    vit_ctx *ctx = vit_ctx_new();
    vit_picture *p = NULL;
    if (vit_picture_read(ctx, path, &p)) { fprintf(stderr, "%s\n", vit_last_error(ctx)); vit_ctx_free(ctx); return 1; }
    unsigned char *seen = calloc(1 << 21, 1); /* one bit per 24-bit colour */
    long colours = 0, ink = 0, npx = (long)p->w * p->h;
    for (long i = 0; i < npx; i++) {
        const unsigned char *c = p->rgb + 3 * i;
        unsigned v = (unsigned)c[0] << 16 | (unsigned)c[1] << 8 | c[2];
        if (!(seen[v >> 3] & 1 << (v & 7))) { seen[v >> 3] |= (unsigned char)(1 << (v & 7)); colours++; }
        ink += memcmp(c, p->rgb, 3) != 0;
    }
    printf("%d %d %ld %.4f\n", p->w, p->h, colours, (double)ink / (double)npx);
    free(seen);
    vit_picture_free(p);
    vit_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--png-stats")) return png_stats(argv[2]);
    int rc = check_main(argc, argv);
    if (tmpdir[0]) rm_tree(tmpdir);
    return rc;
}
