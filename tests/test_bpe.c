/* tests/test_bpe.c — the CLIP BPE tokenizer against OpenCLIP's own ids
 * (tests/golden/bpe/, made by tests/reference/make_bpe_goldens.py) with the real
 * vocabulary from ../shared/data/clip (skipped when absent); truncation, empty
 * text, a small Hugging Face vocab.json + merges.txt, and bad input.
 * Run from the repository root. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "bpe.h"
#include "check.h"

#define VOCAB "../shared/data/clip/bpe_simple_vocab_16e6.txt.gz"
#define STRINGS "tests/golden/bpe/strings.json"
#define IDS "tests/golden/bpe/ids.json"
#define SOT 49406
#define EOT 49407

static const char *tmpdir(void) {
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cJSON *j = NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) j = cJSON_ParseWithLength(buf, (size_t)n);
    free(buf);
    fclose(f);
    return j;
}

static BpeTok *g_tok;   /* the real vocabulary, loaded once */
static int g_tried;

static BpeTok *vocab(void) {
    if (!g_tried) {
        g_tried = 1;
        char err[256];
        if (access(VOCAB, R_OK) == 0 && bpe_load(VOCAB, &g_tok, err, sizeof err))
            fprintf(stderr, "  bpe_load: %s\n", err);
    }
    return g_tok;
}
#define NEED_VOCAB() do { if (access(VOCAB, R_OK)) SKIP("no vocabulary at %s", VOCAB); \
    if (!vocab()) FAIL_AT("cannot load %s", VOCAB); } while (0)

static void print_ids(const char *what, const int32_t *v, int n) {
    fprintf(stderr, "    %s:", what);
    for (int i = 0; i < n; i++) fprintf(stderr, " %d", (int)v[i]);
    fprintf(stderr, "\n");
}

/* compares ids of one golden entry (and its untruncated ids); 1 when equal */
static int check_entry(BpeTok *t, const char *s, const cJSON *e, int *checked_full) {
    const cJSON *ids = cJSON_GetObjectItem(e, "ids"), *full = cJSON_GetObjectItem(e, "full");
    int n = cJSON_GetArraySize(ids);
    int32_t got[77], want[77];
    char err[256];
    int r = bpe_encode(t, s, 77, got, err, sizeof err);
    int nz = 0;
    for (int i = 0; i < n && i < 77; i++) {
        want[i] = cJSON_GetArrayItem(ids, i)->valueint;
        if (i == 0 || want[i]) nz = i + 1;
    }
    int ok = n == 77 && r == nz && !memcmp(got, want, sizeof got);
    if (ok && full) {
        int m = cJSON_GetArraySize(full);
        int32_t *g = malloc(((size_t)m + 2) * sizeof *g);
        int rr = g ? bpe_encode(t, s, m + 2, g, err, sizeof err) : -1;
        ok = rr == m + 2 && g[0] == SOT && g[m + 1] == EOT;
        for (int i = 0; ok && i < m; i++) ok = g[i + 1] == cJSON_GetArrayItem(full, i)->valueint;
        free(g);
        ++*checked_full;
    }
    if (!ok) {
        fprintf(stderr, "  mismatch on \"%s\" (%d tokens, %s)\n", s, r, r < 0 ? err : "");
        print_ids("want", want, nz);
        if (r > 0) print_ids("got ", got, r);
    }
    return ok;
}

TEST(golden_strings) {
    NEED_VOCAB();
    BpeTok *t = vocab();
    cJSON *js = read_json(STRINGS), *ji = read_json(IDS);
    if (!js || !ji) { cJSON_Delete(js); cJSON_Delete(ji); FAIL_AT("cannot read %s / %s", STRINGS, IDS); }
    const cJSON *strs = cJSON_GetObjectItem(js, "strings"), *ids = cJSON_GetObjectItem(ji, "ids");
    int n = cJSON_GetArraySize(strs), match = 0, full = 0;
    for (int i = 0; i < n; i++)
        match += check_entry(t, cJSON_GetArrayItem(strs, i)->valuestring, cJSON_GetArrayItem(ids, i), &full);
    /* mojibake repair is not implemented: informational only */
    const cJSON *ms = cJSON_GetObjectItem(js, "mojibake"), *mi = cJSON_GetObjectItem(ji, "mojibake");
    int nm = cJSON_GetArraySize(ms), mm = 0;
    for (int i = 0; i < nm; i++) {
        int32_t got[77];
        char err[256];
        const cJSON *w = cJSON_GetObjectItem(cJSON_GetArrayItem(mi, i), "ids");
        int r = bpe_encode(t, cJSON_GetArrayItem(ms, i)->valuestring, 77, got, err, sizeof err), eq = r > 0;
        for (int k = 0; eq && k < 77; k++) eq = got[k] == cJSON_GetArrayItem(w, k)->valueint;
        mm += eq;
    }
    printf("# %d/%d strings equal to OpenCLIP (%d with untruncated ids); mojibake (not repaired): %d/%d equal\n",
           match, n, full, mm, nm);
    int sizes_ok = cJSON_GetArraySize(ids) == n && cJSON_GetArraySize(mi) == nm;
    cJSON_Delete(js);
    cJSON_Delete(ji);
    ASSERT(sizes_ok);
    ASSERT(n >= 300);
    ASSERT(full >= 5);
    ASSERT_EQ(match, n);
    return 0;
}

TEST(vocab_facts) {
    NEED_VOCAB();
    BpeTok *t = vocab();
    ASSERT_EQ(bpe_vocab_size(t), 49408);
    ASSERT_STR_EQ(bpe_token(t, SOT), "<start_of_text>");
    ASSERT_STR_EQ(bpe_token(t, EOT), "<end_of_text>");
    ASSERT_STR_EQ(bpe_token(t, 0), "!");
    ASSERT_STR_EQ(bpe_token(t, 256), "!</w>");
    ASSERT(bpe_token(t, 49408) == NULL && bpe_token(t, -1) == NULL);
    return 0;
}

TEST(empty_and_truncation) {
    NEED_VOCAB();
    BpeTok *t = vocab();
    int32_t ids[77];
    char err[256];
    ASSERT_EQ(bpe_encode(t, "", 77, ids, err, sizeof err), 2);
    ASSERT_EQ(ids[0], SOT);
    ASSERT_EQ(ids[1], EOT);
    for (int i = 2; i < 77; i++) ASSERT_EQ(ids[i], 0);
    ASSERT_EQ(bpe_encode(t, " \t\n ", 77, ids, err, sizeof err), 2);
    ASSERT_EQ(ids[1], EOT);
    /* 200 words: truncated to 77 with <eot> last */
    char text[2000] = "";
    for (int i = 0; i < 200; i++) strcat(text, "cat ");
    ASSERT_EQ(bpe_encode(t, text, 77, ids, err, sizeof err), 77);
    ASSERT_EQ(ids[0], SOT);
    ASSERT_EQ(ids[76], EOT);
    for (int i = 1; i < 76; i++) ASSERT_EQ(ids[i], ids[1]);
    ASSERT_STR_EQ(bpe_token(t, ids[1]), "cat</w>");
    /* exactly 75 words fit; 76 lose the last one */
    int32_t a[77], b[77];
    text[0] = 0;
    for (int i = 0; i < 75; i++) strcat(text, "dog ");
    ASSERT_EQ(bpe_encode(t, text, 77, a, err, sizeof err), 77);
    strcat(text, "cat");
    ASSERT_EQ(bpe_encode(t, text, 77, b, err, sizeof err), 77);
    ASSERT(!memcmp(a, b, sizeof a));
    /* other context lengths */
    int32_t small[3];
    ASSERT_EQ(bpe_encode(t, "a photo of a cat", 3, small, err, sizeof err), 3);
    ASSERT_EQ(small[0], SOT);
    ASSERT_EQ(small[2], EOT);
    ASSERT_EQ(bpe_encode(t, "a photo", 1, small, err, sizeof err), 1);
    ASSERT_EQ(small[0], EOT);
    ASSERT_EQ(bpe_encode(t, "a photo", 0, small, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "context length");
    return 0;
}

TEST(missing_file) {
    BpeTok *t = (BpeTok *)1;
    char err[256];
    ASSERT_EQ(bpe_load("tests/golden/bpe/no-such-vocab.txt.gz", &t, err, sizeof err), -1);
    ASSERT(t == NULL);
    ASSERT_CONTAINS(err, "no-such-vocab.txt.gz");
    ASSERT_CONTAINS(err, "No such file");
    return 0;
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

TEST(corrupt_gzip) {
    char dir[512], p[600], err[256];
    snprintf(dir, sizeof dir, "%s/vit-bpe-XXXXXX", tmpdir());
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    /* a gzip header followed by garbage */
    static const unsigned char junk[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef,
                                          0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3 };
    snprintf(p, sizeof p, "%s/corrupt.txt.gz", dir);
    int wr = write_file(p, junk, sizeof junk);
    BpeTok *t = NULL;
    int r = bpe_load(p, &t, err, sizeof err);
    unlink(p);
    /* a valid stream cut in half */
    char q[600];
    snprintf(q, sizeof q, "%s/truncated.txt.gz", dir);
    gzFile g = gzopen(q, "wb");
    for (int i = 0; g && i < 2000; i++) gzprintf(g, "line %d of a merges file that goes on\n", i);
    if (g) gzclose(g);
    FILE *f = fopen(q, "rb");
    unsigned char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    write_file(q, buf, n / 2);
    BpeTok *t2 = NULL;
    char err2[256];
    int r2 = bpe_load(q, &t2, err2, sizeof err2);
    unlink(q);
    rmdir(dir);
    ASSERT_EQ(wr, 0);
    ASSERT_EQ(r, -1);
    ASSERT(t == NULL);
    ASSERT_CONTAINS(err, "corrupt gzip");
    ASSERT(n > 100);
    ASSERT_EQ(r2, -1);
    ASSERT(t2 == NULL);
    ASSERT_CONTAINS(err2, "corrupt gzip");
    return 0;
}

TEST(wrong_format) {
    char dir[512], p[600], err[256];
    snprintf(dir, sizeof dir, "%s/vit-bpe-XXXXXX", tmpdir());
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    /* gzipped JSON instead of merges */
    snprintf(p, sizeof p, "%s/vocab.txt.gz", dir);
    gzFile g = gzopen(p, "wb");
    if (g) { gzputs(g, "{\n  \"a\": 1,\n  \"b\": 2\n}\n"); gzclose(g); }
    BpeTok *t = NULL;
    int r1 = bpe_load(p, &t, err, sizeof err);
    int c1 = strstr(err, "not a merge") != NULL;
    /* merges of symbols that are not tokens */
    g = gzopen(p, "wb");
    if (g) { gzputs(g, "#version: 0.2\ni n\nab cd\n"); gzclose(g); }
    char err2[256];
    int r2 = bpe_load(p, &t, err2, sizeof err2);
    int c2 = strstr(err2, "line 3") && strstr(err2, "not tokens");
    /* binary content */
    static const unsigned char bin[] = { 'h', 'd', 'r', '\n', 0, 1, 2, 0xff, 0xfe, '\n' };
    write_file(p, bin, sizeof bin);
    char err3[256];
    int r3 = bpe_load(p, &t, err3, sizeof err3);
    int c3 = strstr(err3, "not a BPE merges file") != NULL;
    /* only a header */
    write_file(p, "header\n", 7);
    char err4[256];
    int r4 = bpe_load(p, &t, err4, sizeof err4);
    int c4 = strstr(err4, "no merges") != NULL;
    unlink(p);
    rmdir(dir);
    ASSERT_EQ(r1, -1);
    ASSERT(c1);
    ASSERT_EQ(r2, -1);
    ASSERT(c2);
    ASSERT_EQ(r3, -1);
    ASSERT(c3);
    ASSERT_EQ(r4, -1);
    ASSERT(c4);
    ASSERT(t == NULL);
    return 0;
}

/* a tiny Hugging Face vocabulary: directory, vocab.json or merges.txt all load it */
TEST(hf_pair) {
    char dir[512], p[600], q[600], err[256];
    snprintf(dir, sizeof dir, "%s/vit-bpe-XXXXXX", tmpdir());
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    snprintf(q, sizeof q, "%s/merges.txt", dir);
    const char *vj = "{\"a\": 0, \"b\": 1, \"a</w>\": 2, \"b</w>\": 3, \"ab</w>\": 4, \"ab\": 5, "
                     "\"abab</w>\": 6, \"<|startoftext|>\": 7, \"<|endoftext|>\": 8}";
    const char *mt = "#version: 0.2\na b</w>\na b\nab ab</w>\n";
    int w = write_file(p, vj, strlen(vj)) | write_file(q, mt, strlen(mt));
    const char *paths[3] = { dir, p, q };
    int res[3][8], rets[3], sizes[3];
    for (int k = 0; k < 3; k++) {
        BpeTok *t = NULL;
        int32_t ids[8];
        rets[k] = bpe_load(paths[k], &t, err, sizeof err);
        if (rets[k]) { fprintf(stderr, "  %s\n", err); sizes[k] = -1; continue; }
        sizes[k] = bpe_vocab_size(t);
        /* "ab" -> ab</w>; "ba" -> b a</w>; "abab" -> abab</w>; "<|endoftext|>" is the eot id */
        rets[k] = bpe_encode(t, "AB ba abab <|endoftext|>", 8, ids, err, sizeof err);
        for (int i = 0; i < 8; i++) res[k][i] = ids[i];
        bpe_free(t);
    }
    unlink(p);
    unlink(q);
    rmdir(dir);
    ASSERT_EQ(w, 0);
    for (int k = 0; k < 3; k++) {
        ASSERT_EQ(sizes[k], 9);
        ASSERT_EQ(rets[k], 7);
        const int want[8] = { 7, 4, 1, 2, 6, 8, 8, 0 };
        for (int i = 0; i < 8; i++) ASSERT_EQ(res[k][i], want[i]);
    }
    return 0;
}

/* a byte with no token in a small vocabulary is an error, not a crash */
TEST(hf_missing_byte) {
    char dir[512], p[600], q[600], err[256];
    snprintf(dir, sizeof dir, "%s/vit-bpe-XXXXXX", tmpdir());
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    snprintf(q, sizeof q, "%s/merges.txt", dir);
    const char *vj = "{\"a</w>\": 0, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}";
    int w = write_file(p, vj, strlen(vj)) | write_file(q, "#version: 0.2\n", 14);
    BpeTok *t = NULL;
    int r = bpe_load(dir, &t, err, sizeof err), e = -2;
    int32_t ids[4];
    char err2[256] = "";
    if (!r) e = bpe_encode(t, "a z", 4, ids, err2, sizeof err2);
    bpe_free(t);
    unlink(p);
    unlink(q);
    rmdir(dir);
    ASSERT_EQ(w, 0);
    ASSERT_EQ(r, 0);
    ASSERT_EQ(e, -1);
    ASSERT_CONTAINS(err2, "no token");
    return 0;
}

/* invalid UTF-8 is refused with a message (any vocabulary: a tiny one here) */
TEST(invalid_utf8) {
    char dir[512], p[600], q[600], err[256];
    snprintf(dir, sizeof dir, "%s/vit-bpe-XXXXXX", tmpdir());
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    snprintf(q, sizeof q, "%s/merges.txt", dir);
    const char *vj = "{\"o</w>\": 0, \"k</w>\": 1, \"o\": 2, \"<|startoftext|>\": 3, \"<|endoftext|>\": 4}";
    int w = write_file(p, vj, strlen(vj)) | write_file(q, "#version: 0.2\n", 14);
    BpeTok *t = NULL;
    int r = bpe_load(dir, &t, err, sizeof err);
    unlink(p);
    unlink(q);
    rmdir(dir);
    ASSERT_EQ(w, 0);
    ASSERT_EQ(r, 0);
    static const char *const bad[] = { "ok\xff", "\xc3", "\xc3(", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80",
                                       "\xf4\x90\x80\x80", "ok \x80 ok", "\xf0\x9f\x98", "\xf8\x88\x80\x80\x80" };
    int32_t ids[8];
    int fails = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (bpe_encode(t, bad[i], 8, ids, err, sizeof err) != -1 || !strstr(err, "invalid UTF-8")) {
            fprintf(stderr, "  case %zu: '%s'\n", i, err);
            fails++;
        }
    }
    int good = bpe_encode(t, "OK ok", 8, ids, err, sizeof err);
    bpe_free(t);
    ASSERT_EQ(fails, 0);
    ASSERT_EQ(good, 6);
    ASSERT_EQ(ids[1], 2);
    ASSERT_EQ(ids[2], 1);
    return 0;
}

TESTS {
    T(vocab_facts),
    T(golden_strings),
    T(empty_and_truncation),
    T(invalid_utf8),
    T(missing_file),
    T(corrupt_gzip),
    T(wrong_format),
    T(hf_pair),
    T(hf_missing_byte),
};

int main(int argc, char **argv) {
    int r = check_main(argc, argv);
    bpe_free(g_tok);
    return r;
}
