/* tests/test_st.c — the safetensors reader and writer.  Every kind of
 * malformed file is written byte by byte into a fresh temporary directory and
 * st_open must refuse it with a message naming the problem; the writer must
 * round-trip bit-exactly and be atomic; F16/BF16 must convert exactly.
 */
#define _POSIX_C_SOURCE 200809L
#include "st.h"
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static char tmpdir[512]; /* created on first use, removed by main */

static const char *tdir(void) {
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
        snprintf(tmpdir, sizeof tmpdir, "%s/test_st.XXXXXX", base);
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "mkdtemp(%s): %s\n", tmpdir, strerror(errno));
            tmpdir[0] = '\0';
            return NULL;
        }
    }
    return tmpdir;
}

static const char *tpath(char *buf, size_t n, const char *name) {
    const char *d = tdir();
    snprintf(buf, n, "%s/%s", d ? d : ".", name);
    return buf;
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int ok = fwrite(p, 1, n, fp) == n;
    return (fclose(fp) == 0 && ok) ? 0 : -1;
}

/* a safetensors file: length prefix `hlen`, header text, blob */
static int write_st_n(const char *path, uint64_t hlen, const char *json, const void *blob,
                      size_t bloblen) {
    size_t jn = strlen(json);
    unsigned char *buf = malloc(8 + jn + bloblen + 1);
    if (!buf) return -1;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, json, jn);
    if (bloblen) memcpy(buf + 8 + jn, blob, bloblen);
    int rc = write_bytes(path, buf, 8 + jn + bloblen);
    free(buf);
    return rc;
}

static int write_st(const char *path, const char *json, const void *blob, size_t bloblen) {
    return write_st_n(path, strlen(json), json, blob, bloblen);
}

/* st_open(path) must fail, leave *out NULL, and the message must name the
 * file and contain every word in words[] (NULL-terminated). */
static int expect_open_fail(const char *path, const char *const *words) {
    char err[1024] = "";
    StFile *f = (StFile *)(uintptr_t)1;
    int rc = st_open(path, &f, err, sizeof err);
    if (rc == 0) {
        st_close(f);
        FAIL_AT("st_open(%s) succeeded, expected failure", path);
    }
    ASSERT_EQ(rc, -1);
    ASSERT(f == NULL);
    ASSERT(strchr(err, '\n') == NULL);
    ASSERT_CONTAINS(err, path);
    for (int i = 0; words[i]; i++) ASSERT_CONTAINS(err, words[i]);
    return 0;
}

/* write header json + blob as `name`, then expect_open_fail */
static int expect_bad(const char *name, const char *json, const void *blob, size_t bloblen,
                      const char *const *words) {
    char path[600];
    tpath(path, sizeof path, name);
    if (write_st(path, json, blob, bloblen)) FAIL_AT("cannot write %s", path);
    return expect_open_fail(path, words);
}

#define EXPECT_BAD(name, json, blob, len, ...) do { \
        const char *const w_[] = {__VA_ARGS__, NULL}; \
        if (expect_bad(name, json, blob, len, w_)) FAIL_AT("(from here)"); } while (0)

#define EXPECT_OPEN_FAIL(path, ...) do { \
        const char *const w_[] = {__VA_ARGS__, NULL}; \
        if (expect_open_fail(path, w_)) FAIL_AT("(from here)"); } while (0)

/* number of entries of dir whose name contains sub */
static int count_entries(const char *dir, const char *sub) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, sub)) n++;
    closedir(d);
    return n;
}

static void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static const unsigned char zeros[64];

/* exact floating equality (ASSERT_EQ would truncate to integers) */
#define ASSERT_FEQ(a, b) do { double _x = (a), _y = (b); \
        if (!(_x == _y)) FAIL_AT("%s == %s: %a != %a", #a, #b, _x, _y); } while (0)

/* ------------------------------------------------------------------ */
/* malformed files                                                     */

TEST(t_truncated) {
    char path[600];
    tpath(path, sizeof path, "short.safetensors");
    if (write_bytes(path, "\x10\0\0\0\0", 5)) FAIL_AT("write");
    EXPECT_OPEN_FAIL(path, "5 bytes", "shorter than the 8-byte");
    tpath(path, sizeof path, "empty.safetensors");
    if (write_bytes(path, "", 0)) FAIL_AT("write");
    EXPECT_OPEN_FAIL(path, "0 bytes", "shorter than the 8-byte");
    return 0;
}

TEST(t_header_beyond_file) {
    char path[600];
    tpath(path, sizeof path, "hlen.safetensors");
    if (write_st_n(path, 1000, "{}        ", NULL, 0)) FAIL_AT("write");
    EXPECT_OPEN_FAIL(path, "header length 1000", "only 10 bytes", "beyond the file");
    /* a length whose 64-bit value cannot be a size at all */
    if (write_st_n(path, UINT64_MAX, "{}", NULL, 0)) FAIL_AT("write");
    EXPECT_OPEN_FAIL(path, "header length 18446744073709551615", "only 2 bytes");
    return 0;
}

TEST(t_bad_json) {
    EXPECT_BAD("json1.safetensors", "{\"a\": {\"dtype\": \"F32\",", NULL, 0,
               "not valid JSON", "header (22 bytes)");
    EXPECT_BAD("json2.safetensors", "{\"a\" 1}", NULL, 0, "not valid JSON", "error at byte");
    EXPECT_BAD("json3.safetensors", "", NULL, 0, "not valid JSON", "header (0 bytes)");
    EXPECT_BAD("json4.safetensors", "{} x", NULL, 0, "trailing bytes", "byte 3 of 4");
    EXPECT_BAD("json5.safetensors", "[1, 2]", NULL, 0, "header is an array",
               "expected a JSON object");
    EXPECT_BAD("json6.safetensors", "\"str\"", NULL, 0, "header is a string");
    /* NUL inside the header (length prefix covers it) */
    char path[600];
    tpath(path, sizeof path, "json7.safetensors");
    const unsigned char nulhdr[] = {4, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, ' '};
    if (write_bytes(path, nulhdr, sizeof nulhdr)) FAIL_AT("write");
    EXPECT_OPEN_FAIL(path, "NUL byte at offset 2");
    return 0;
}

TEST(t_offsets_out_of_range) {
    EXPECT_BAD("range1.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
               zeros, 8, "tensor 'w'", "data_offsets [0, 16]", "end 16", "beyond",
               "data blob of 8 bytes");
    EXPECT_BAD("range2.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}",
               zeros, 0, "tensor 'w'", "[8, 12]", "data blob of 0 bytes");
    EXPECT_BAD("range3.safetensors",
               "{\"w\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [1e300, 2e300]}}",
               zeros, 8, "tensor 'w'", "data_offsets[0] is 1.0000000000000001e+300");
    return 0;
}

TEST(t_overlapping) {
    EXPECT_BAD("ovl1.safetensors",
               "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}",
               zeros, 24, "overlap", "'a' data_offsets [0, 16]", "'b' data_offsets [8, 24]");
    /* listed out of order: still found after sorting by begin */
    EXPECT_BAD("ovl2.safetensors",
               "{\"late\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [24, 32]},"
               " \"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [16, 32]},"
               " \"first\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
               zeros, 32, "overlap", "'x' data_offsets [16, 32]", "'late' data_offsets [24, 32]");
    /* identical ranges */
    EXPECT_BAD("ovl3.safetensors",
               "{\"a\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
               zeros, 8, "overlap", "'a'", "'b'");
    /* one tensor inside another */
    EXPECT_BAD("ovl4.safetensors",
               "{\"big\": {\"dtype\": \"U8\", \"shape\": [32], \"data_offsets\": [0, 32]},"
               " \"small\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [8, 12]}}",
               zeros, 32, "overlap", "'big'", "'small'");
    return 0;
}

TEST(t_length_mismatch) {
    EXPECT_BAD("len1.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}",
               zeros, 24, "tensor 'w'", "[0, 20]", "span 20 bytes", "F32 shape [2, 3]",
               "needs 24", "6 elements x 4 bytes");
    EXPECT_BAD("len2.safetensors",
               "{\"h\": {\"dtype\": \"BF16\", \"shape\": [3], \"data_offsets\": [0, 12]}}",
               zeros, 12, "tensor 'h'", "span 12 bytes", "BF16 shape [3]", "needs 6");
    EXPECT_BAD("len3.safetensors",
               "{\"s\": {\"dtype\": \"F64\", \"shape\": [], \"data_offsets\": [0, 0]}}",
               zeros, 8, "tensor 's'", "span 0 bytes", "shape []", "needs 8");
    EXPECT_BAD("len4.safetensors",
               "{\"huge\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296],"
               " \"data_offsets\": [0, 4]}}", zeros, 4, "tensor 'huge'", "too large");
    return 0;
}

TEST(t_unknown_dtype) {
    EXPECT_BAD("dt1.safetensors",
               "{\"w\": {\"dtype\": \"F8_E4M3\", \"shape\": [4], \"data_offsets\": [0, 4]}}",
               zeros, 4, "tensor 'w'", "unsupported dtype \"F8_E4M3\"", "supported: F32");
    EXPECT_BAD("dt2.safetensors",
               "{\"w\": {\"dtype\": \"f32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
               zeros, 4, "unsupported dtype \"f32\"");
    EXPECT_BAD("dt3.safetensors",
               "{\"w\": {\"dtype\": 32, \"shape\": [1], \"data_offsets\": [0, 4]}}",
               zeros, 4, "tensor 'w'", "\"dtype\" is a number", "expected a string");
    return 0;
}

TEST(t_unreadable_path) {
    char path[600];
    tpath(path, sizeof path, "does-not-exist.safetensors");
    EXPECT_OPEN_FAIL(path, "cannot open", strerror(ENOENT));
    tpath(path, sizeof path, "adir.safetensors");
    if (mkdir(path, 0700)) FAIL_AT("mkdir");
    EXPECT_OPEN_FAIL(path, "not a regular file");
    if (geteuid() != 0) { /* root reads anything */
        tpath(path, sizeof path, "noperm.safetensors");
        if (write_st(path, "{}", NULL, 0) || chmod(path, 0)) FAIL_AT("write/chmod");
        EXPECT_OPEN_FAIL(path, "cannot open", strerror(EACCES));
    }
    char err[256];
    StFile *f = NULL;
    ASSERT_EQ(st_open(NULL, &f, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "NULL argument");
    return 0;
}

TEST(t_entry_fields) {
    EXPECT_BAD("ent1.safetensors", "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}",
               zeros, 4, "tensor 'w'", "missing \"dtype\"");
    EXPECT_BAD("ent2.safetensors", "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}",
               zeros, 4, "tensor 'w'", "missing \"shape\"");
    EXPECT_BAD("ent3.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}",
               zeros, 4, "tensor 'w'", "missing \"data_offsets\"");
    EXPECT_BAD("ent4.safetensors", "{\"w\": 7}", zeros, 4, "tensor 'w'",
               "entry is a number", "expected an object");
    EXPECT_BAD("ent5.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": \"1\", \"data_offsets\": [0, 4]}}",
               zeros, 4, "tensor 'w'", "\"shape\" is a string");
    EXPECT_BAD("ent6.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, -1], \"data_offsets\": [0, 4]}}",
               zeros, 4, "tensor 'w'", "shape[1] is -1", "non-negative integer");
    EXPECT_BAD("ent7.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 4]}}",
               zeros, 4, "tensor 'w'", "shape[0] is 2.5");
    EXPECT_BAD("ent8.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [null], \"data_offsets\": [0, 4]}}",
               zeros, 4, "shape[0] is null");
    EXPECT_BAD("ent9.safetensors",
               "{\"w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1],"
               " \"data_offsets\": [0, 1]}}", zeros, 4, "tensor 'w'", "9 dims", "at most 8");
    EXPECT_BAD("ent10.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}",
               zeros, 8, "tensor 'w'", "has 3 entries", "expected 2 integers");
    EXPECT_BAD("ent11.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}",
               zeros, 8, "tensor 'w'", "[8, 4]", "not ordered");
    EXPECT_BAD("ent12.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [\"0\", 4]}}",
               zeros, 8, "tensor 'w'", "data_offsets[0] is a string");
    EXPECT_BAD("ent13.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": {\"b\": 0}}}",
               zeros, 8, "tensor 'w'", "\"data_offsets\" is an object");
    EXPECT_BAD("ent14.safetensors",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, -4]}}",
               zeros, 8, "tensor 'w'", "data_offsets[1] is -4");
    /* the first bad entry is reported even after good ones */
    EXPECT_BAD("ent15.safetensors",
               "{\"ok\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
               " \"bad\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4]}}",
               zeros, 8, "tensor 'bad'", "has 1 entries");
    return 0;
}

TEST(t_duplicate_keys) {
    EXPECT_BAD("dup1.safetensors",
               "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]},"
               " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}",
               zeros, 12, "duplicate key 'a'");
    EXPECT_BAD("dup2.safetensors",
               "{\"__metadata__\": {\"k\": \"1\", \"k\": \"2\"}}", NULL, 0,
               "duplicate key 'k'", "__metadata__");
    return 0;
}

TEST(t_metadata) {
    EXPECT_BAD("meta1.safetensors", "{\"__metadata__\": {\"n\": 3}}", NULL, 0,
               "\"__metadata__\" entry 'n' is a number", "expected a string");
    EXPECT_BAD("meta2.safetensors", "{\"__metadata__\": [\"x\"]}", NULL, 0,
               "\"__metadata__\" is an array");
    char path[600], err[512];
    tpath(path, sizeof path, "meta3.safetensors");
    if (write_st(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                 " \"__metadata__\": {\"format\": \"pt\", \"esc\": \"a\\\"b\\n\"}}  ",
                 zeros, 4)) FAIL_AT("write");
    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT_EQ(f->n, 1);
    ASSERT_EQ(f->nmeta, 2);
    ASSERT_STR_EQ(st_meta(f, "format"), "pt");
    ASSERT_STR_EQ(st_meta(f, "esc"), "a\"b\n");
    ASSERT(st_meta(f, "nope") == NULL);
    ASSERT_STR_EQ(f->meta[0].key, "format");
    ASSERT_EQ(st_find(f, "__metadata__"), -1);
    st_close(f);
    return 0;
}

/* ------------------------------------------------------------------ */
/* valid files                                                         */

TEST(t_valid_edge_cases) {
    char path[600], err[512];
    StFile *f = NULL;
    /* empty header object, gaps between tensors, empty tensors anywhere */
    tpath(path, sizeof path, "ok1.safetensors");
    if (write_st(path, "{}", NULL, 0)) FAIL_AT("write");
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT_EQ(f->n, 0);
    ASSERT_EQ(f->data_len, 0);
    ASSERT_EQ(st_find(f, "x"), -1);
    ASSERT_STR_EQ(f->path, path);
    st_close(f);

    tpath(path, sizeof path, "ok2.safetensors");
    if (write_st(path, "{\"b\": {\"dtype\": \"U8\", \"shape\": [3], \"data_offsets\": [10, 13]},"
                 " \"e\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [11, 11]},"
                 " \"a\": {\"dtype\": \"BOOL\", \"shape\": [2], \"data_offsets\": [0, 2]},"
                 " \"s\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [16, 24]}}",
                 zeros, 30)) FAIL_AT("write");
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT_EQ(f->n, 4);
    ASSERT_STR_EQ(f->t[0].name, "b"); /* header order kept */
    ASSERT_STR_EQ(f->t[1].name, "e");
    ASSERT_STR_EQ(f->t[2].name, "a");
    ASSERT_STR_EQ(f->t[3].name, "s");
    ASSERT_EQ(st_find(f, "a"), 2);
    ASSERT_EQ(st_find(f, "s"), 3);
    ASSERT_EQ(st_find(f, "b"), 0);
    ASSERT_EQ(st_find(f, "e"), 1);
    ASSERT_EQ(f->t[0].dtype, ST_DTYPE_U8);
    ASSERT_EQ(f->t[2].dtype, ST_DTYPE_BOOL);
    ASSERT_EQ(f->t[3].rank, 0);
    ASSERT_EQ(st_numel(&f->t[3]), 1);
    ASSERT_EQ(st_numel(&f->t[1]), 0);
    ASSERT_EQ(f->t[1].shape[1], 5);
    ASSERT_EQ(f->t[0].begin, 10);
    ASSERT_EQ(f->t[0].end, 13);
    ASSERT_EQ(f->data_len, 30);
    ASSERT_EQ(f->header_len + 8 + 30, f->size);
    float e0;
    ASSERT_EQ(st_read_f32(f, 1, &e0, err, sizeof err), 0); /* zero elements */
    ASSERT_EQ(st_read_f32(f, 3, &e0, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "tensor 's' has dtype I64");
    ASSERT_EQ(st_read_f32(f, 4, &e0, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "index 4 out of range [0, 4)");
    ASSERT(st_data_f32(f, 0) == NULL);
    ASSERT(st_data_f32(f, -1) == NULL);
    st_close(f);
    st_close(NULL);
    return 0;
}

TEST(t_dtype_table) {
    static const char *names[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL"};
    static const int sizes[] = {4, 2, 2, 8, 8, 4, 1, 1};
    for (int d = 0; d < ST_DTYPE_COUNT; d++) {
        ASSERT_STR_EQ(st_dtype_name((enum st_dtype)d), names[d]);
        ASSERT_EQ(st_dtype_size((enum st_dtype)d), sizes[d]);
    }
    ASSERT_STR_EQ(st_dtype_name(ST_DTYPE_COUNT), "?");
    ASSERT_EQ(st_dtype_size(ST_DTYPE_COUNT), 0);
    return 0;
}

TEST(t_misaligned_f32) {
    /* 8 + N = 21: the blob starts 1 byte past a 4-byte boundary */
    char path[600], err[512];
    const char *json = "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}";
    size_t jn = strlen(json);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "%s%*s", json, (int)((5 - (8 + jn) % 4) % 4), "");
    ASSERT_EQ((8 + strlen(hdr)) % 4, 1);
    unsigned char blob[8];
    float v[2] = {1.5f, -2.25f};
    memcpy(blob, v, 8);
    tpath(path, sizeof path, "mis.safetensors");
    if (write_st(path, hdr, blob, 8)) FAIL_AT("write");
    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT(st_data_f32(f, 0) == NULL);
    float out[2];
    ASSERT_EQ(st_read_f32(f, 0, out, err, sizeof err), 0);
    ASSERT_EQ(f32_bits(out[0]), f32_bits(1.5f));
    ASSERT_EQ(f32_bits(out[1]), f32_bits(-2.25f));
    st_close(f);
    return 0;
}

/* ------------------------------------------------------------------ */
/* conversions                                                         */

TEST(t_f16_exhaustive) {
    for (uint32_t h = 0; h < 65536; h++) {
        float got = st_f16_to_f32((uint16_t)h);
        uint32_t sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
        if (exp == 31 && man) { /* nan: quiet/signal bit and payload carried over */
            ASSERT(isnan(got));
            ASSERT_EQ(f32_bits(got) >> 31, sign);
            ASSERT_EQ((f32_bits(got) >> 13) & 1023, man);
            continue;
        }
        double ref = exp == 31 ? INFINITY
                   : exp == 0 ? ldexp((double)man, -24)
                   : ldexp((double)(1024 + man), (int)exp - 25);
        if (sign) ref = -ref;
        float reff = (float)ref; /* exact: every half is a float */
        ASSERT_FEQ((double)reff, ref);
        if (f32_bits(got) != f32_bits(reff))
            FAIL_AT("half 0x%04x: got %a (0x%08x), want %a (0x%08x)", (unsigned)h,
                    (double)got, (unsigned)f32_bits(got), ref, (unsigned)f32_bits(reff));
    }
    /* named values */
    ASSERT_FEQ(st_f16_to_f32(0x3c00), 1.0);
    ASSERT_FEQ(st_f16_to_f32(0xc000), -2.0);
    ASSERT_FEQ(st_f16_to_f32(0x7bff), 65504.0);
    ASSERT_FEQ(st_f16_to_f32(0x3555), 0.333251953125);
    ASSERT_FEQ(st_f16_to_f32(0x0001), ldexp(1, -24));
    ASSERT_FEQ(st_f16_to_f32(0x03ff), ldexp(1023, -24));
    ASSERT_FEQ(st_f16_to_f32(0x0400), ldexp(1, -14));
    ASSERT_EQ(f32_bits(st_f16_to_f32(0x8000)), 0x80000000u);
    ASSERT_EQ(f32_bits(st_f16_to_f32(0x7c00)), 0x7f800000u);
    ASSERT_EQ(f32_bits(st_f16_to_f32(0xfc00)), 0xff800000u);
    ASSERT_EQ(f32_bits(st_f16_to_f32(0x7e00)), 0x7fc00000u);
    ASSERT_EQ(f32_bits(st_f16_to_f32(0x7e01)), 0x7fc02000u);
    return 0;
}

TEST(t_bf16_values) {
    for (uint32_t b = 0; b < 65536; b++)
        ASSERT_EQ(f32_bits(st_bf16_to_f32((uint16_t)b)), b << 16);
    ASSERT_FEQ(st_bf16_to_f32(0x3f80), 1.0);
    ASSERT_FEQ(st_bf16_to_f32(0xc040), -3.0);
    ASSERT_FEQ(st_bf16_to_f32(0x3e80), 0.25);
    ASSERT_FEQ(st_bf16_to_f32(0x0001), ldexp(1, -133)); /* smallest subnormal */
    ASSERT_FEQ(st_bf16_to_f32(0x0080), ldexp(1, -126)); /* smallest normal */
    ASSERT_FEQ(st_bf16_to_f32(0x7f7f), ldexp(255, 120)); /* largest finite */
    ASSERT(isinf(st_bf16_to_f32(0x7f80)) && st_bf16_to_f32(0x7f80) > 0);
    ASSERT(isinf(st_bf16_to_f32(0xff80)) && st_bf16_to_f32(0xff80) < 0);
    ASSERT(isnan(st_bf16_to_f32(0x7fc0)));
    ASSERT_EQ(f32_bits(st_bf16_to_f32(0x8000)), 0x80000000u);
    return 0;
}

/* F16, BF16, F64 tensors in a file, converted by st_read_f32 */
TEST(t_read_converts) {
    static const uint16_t h[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400,
                                 0x7c00, 0xfc00, 0x8000, 0x3555, 0x7e00};
    static const uint16_t bf[] = {0x3f80, 0xc040, 0x0001, 0x7f80, 0x8000, 0x7fc0};
    const double d[] = {1.0, -0.1, 1e300, -1e-300, 3.0e38, 0.0};
    enum { NH = sizeof h / sizeof h[0], NB = sizeof bf / sizeof bf[0], ND = 6 };
    const float want_h[NH] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 0x3ffp-24f, 0x1p-14f,
                              INFINITY, -INFINITY, -0.0f, 0.333251953125f, NAN};
    const float want_b[NB] = {1.0f, -3.0f, 0x1p-133f, INFINITY, -0.0f, NAN};
    const float want_d[ND] = {1.0f, -0.1f, INFINITY, -0.0f, 3.0e38f, 0.0f};

    unsigned char hb[2 * NH], bb[2 * NB], db[8 * ND];
    for (int i = 0; i < NH; i++) { hb[2 * i] = h[i] & 0xff; hb[2 * i + 1] = h[i] >> 8; }
    for (int i = 0; i < NB; i++) { bb[2 * i] = bf[i] & 0xff; bb[2 * i + 1] = bf[i] >> 8; }
    for (int i = 0; i < ND; i++) {
        uint64_t u;
        memcpy(&u, &d[i], 8);
        for (int k = 0; k < 8; k++) db[8 * i + k] = (unsigned char)(u >> (8 * k));
    }
    char path[600], err[512];
    tpath(path, sizeof path, "conv.safetensors");
    StWriter *w = st_writer_new();
    ASSERT(w);
    int64_t sh[1] = {NH}, sb[2] = {2, NB / 2}, sd[1] = {ND};
    ASSERT_EQ(st_writer_add_raw(w, "half", ST_DTYPE_F16, 1, sh, hb), 0);
    ASSERT_EQ(st_writer_add_raw(w, "brain", ST_DTYPE_BF16, 2, sb, bb), 0);
    ASSERT_EQ(st_writer_add_raw(w, "double", ST_DTYPE_F64, 1, sd, db), 0);
    if (st_writer_finish(w, path, err, sizeof err)) FAIL_AT("%s", err);

    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    float out[16];
    const struct { const char *name; const float *want; int n; } cases[] = {
        {"half", want_h, NH}, {"brain", want_b, NB}, {"double", want_d, ND}};
    for (int c = 0; c < 3; c++) {
        int64_t idx = st_find(f, cases[c].name);
        ASSERT(idx >= 0);
        ASSERT_EQ(st_numel(&f->t[idx]), cases[c].n);
        ASSERT(st_data_f32(f, idx) == NULL);
        if (st_read_f32(f, idx, out, err, sizeof err)) FAIL_AT("%s", err);
        for (int i = 0; i < cases[c].n; i++) {
            float g = out[i], x = cases[c].want[i];
            if (isnan(x) ? !isnan(g) : f32_bits(g) != f32_bits(x))
                FAIL_AT("%s[%d]: got %a, want %a", cases[c].name, i, (double)g, (double)x);
        }
    }
    st_close(f);
    return 0;
}

/* ------------------------------------------------------------------ */
/* writer                                                              */

TEST(t_writer_roundtrip) {
    char path[600], err[512];
    tpath(path, sizeof path, "roundtrip.safetensors");
    float a[6] = {1.0f, -2.5f, 3.25e-39f /* subnormal */, INFINITY, -0.0f, 1e30f};
    a[5] = bits_f32(0x7fc12345u); /* nan with payload: bits must survive */
    float b[1] = {42.0f};
    float big[3 * 5 * 7];
    for (int i = 0; i < 105; i++) big[i] = (float)i * 0.5f - 7.0f;
    int64_t sa[2] = {2, 3}, sbig[3] = {3, 5, 7}, sempty[2] = {0, 4};
    const char *weird = "blocks.0.\"attn\"\\qkv\n\xc3\xa9";

    /* write twice: the second replaces the first atomically */
    for (int pass = 0; pass < 2; pass++) {
        StWriter *w = st_writer_new();
        ASSERT(w);
        ASSERT_EQ(st_writer_meta(w, "format", pass ? "pt" : "old"), 0);
        ASSERT_EQ(st_writer_meta(w, "note", "quote \" backslash \\ tab \t \xe2\x82\xac"), 0);
        ASSERT_EQ(st_writer_add_f32(w, "a", 2, sa, a), 0);
        ASSERT_EQ(st_writer_add_f32(w, "scalar", 0, NULL, b), 0);
        ASSERT_EQ(st_writer_add_f32(w, "empty", 2, sempty, NULL), 0);
        ASSERT_EQ(st_writer_add_f32(w, weird, 3, sbig, big), 0);
        if (pass) ASSERT_EQ(st_writer_add_f32(w, "extra", 1, (int64_t[]){1}, b), 0);
        if (st_writer_finish(w, path, err, sizeof err)) FAIL_AT("%s", err);
    }
    ASSERT_EQ(count_entries(tdir(), "roundtrip.safetensors"), 1); /* no temp file left */
    ASSERT_EQ(count_entries(tdir(), ".tmp."), 0);

    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT_EQ(f->n, 5);
    ASSERT_EQ((8 + f->header_len) % 8, 0);
    ASSERT_EQ(f->size, 8 + f->header_len + (6 + 1 + 0 + 105 + 1) * 4);
    ASSERT_STR_EQ(st_meta(f, "format"), "pt");
    ASSERT_STR_EQ(st_meta(f, "note"), "quote \" backslash \\ tab \t \xe2\x82\xac");
    const char *names[] = {"a", "scalar", "empty", weird, "extra"};
    for (int i = 0; i < 5; i++) {
        ASSERT_STR_EQ(f->t[i].name, names[i]);
        ASSERT_EQ(st_find(f, names[i]), i);
        ASSERT_EQ(f->t[i].dtype, ST_DTYPE_F32);
        ASSERT(st_data_f32(f, i) != NULL); /* aligned in place */
    }
    ASSERT_EQ(f->t[0].rank, 2);
    ASSERT_EQ(f->t[0].shape[0], 2);
    ASSERT_EQ(f->t[0].shape[1], 3);
    ASSERT_EQ(f->t[1].rank, 0);
    ASSERT_EQ(f->t[2].rank, 2);
    ASSERT_EQ(f->t[2].shape[0], 0);
    ASSERT_EQ(f->t[2].shape[1], 4);
    ASSERT_EQ(f->t[3].rank, 3);
    ASSERT_EQ(f->t[3].shape[2], 7);

    const float *pa = st_data_f32(f, 0);
    ASSERT(memcmp(pa, a, sizeof a) == 0); /* bit-exact, nan payload too */
    float out[105];
    if (st_read_f32(f, 3, out, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT(memcmp(out, big, sizeof big) == 0);
    ASSERT(memcmp(st_data_f32(f, 3), big, sizeof big) == 0);
    ASSERT_FEQ(st_data_f32(f, 1)[0], 42.0);
    st_close(f);
    return 0;
}

TEST(t_writer_empty) {
    char path[600], err[512];
    tpath(path, sizeof path, "none.safetensors");
    StWriter *w = st_writer_new();
    ASSERT(w);
    if (st_writer_finish(w, path, err, sizeof err)) FAIL_AT("%s", err);
    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT_EQ(f->n, 0);
    ASSERT_EQ(f->nmeta, 0);
    ASSERT_EQ(f->size, 16); /* "{}" padded to 8 */
    st_close(f);
    return 0;
}

TEST(t_writer_missing_dir) {
    char path[700], dir[600], err[512];
    tpath(dir, sizeof dir, "no-such-dir");
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    StWriter *w = st_writer_new();
    float v[2] = {1, 2};
    ASSERT_EQ(st_writer_add_f32(w, "v", 1, (int64_t[]){2}, v), 0);
    ASSERT_EQ(st_writer_finish(w, path, err, sizeof err), -1);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, "cannot create temporary file");
    ASSERT_CONTAINS(err, strerror(ENOENT));
    struct stat st;
    ASSERT(stat(path, &st) != 0 && errno == ENOENT);
    ASSERT(stat(dir, &st) != 0);
    ASSERT_EQ(count_entries(tdir(), "out.safetensors"), 0);
    return 0;
}

TEST(t_writer_rename_fails) {
    /* the destination is a non-empty directory: rename fails after the temp
     * file was fully written; it must be removed and the directory kept */
    char path[600], inner[700], err[512];
    tpath(path, sizeof path, "taken.safetensors");
    if (mkdir(path, 0700)) FAIL_AT("mkdir");
    snprintf(inner, sizeof inner, "%s/keep", path);
    if (write_bytes(inner, "x", 1)) FAIL_AT("write");
    StWriter *w = st_writer_new();
    float v[3] = {1, 2, 3};
    ASSERT_EQ(st_writer_add_f32(w, "v", 1, (int64_t[]){3}, v), 0);
    ASSERT_EQ(st_writer_finish(w, path, err, sizeof err), -1);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, "rename");
    struct stat st;
    ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    ASSERT(stat(inner, &st) == 0);
    ASSERT_EQ(count_entries(tdir(), ".tmp."), 0);
    return 0;
}

TEST(t_writer_write_fails) {
    /* a file size limit makes write() fail part way (EFBIG): the partial
     * temporary file must be removed and nothing appear at path */
    char path[600], err[512];
    tpath(path, sizeof path, "toobig.safetensors");
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_FSIZE, &old)) FAIL_AT("getrlimit");
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    static float big[4096];
    StWriter *w = st_writer_new();
    ASSERT(w);
    ASSERT_EQ(st_writer_add_f32(w, "big", 1, (int64_t[]){4096}, big), 0);
    lim = old;
    lim.rlim_cur = 1024;
    if (setrlimit(RLIMIT_FSIZE, &lim)) {
        st_writer_free(w);
        signal(SIGXFSZ, oldsig);
        SKIP("cannot lower RLIMIT_FSIZE");
    }
    int rc = st_writer_finish(w, path, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);
    ASSERT_EQ(rc, -1);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, "write to");
    ASSERT_CONTAINS(err, strerror(EFBIG));
    struct stat st;
    ASSERT(stat(path, &st) != 0);
    ASSERT_EQ(count_entries(tdir(), ".tmp."), 0);
    return 0;
}

TEST(t_writer_bad_args) {
    char path[600], err[512];
    float v[2] = {1, 2};
    int64_t s2[1] = {2};
    struct { const char *file, *word; int kind; } cases[] = {
        {"dupname.safetensors", "duplicate tensor name 'v'", 0},
        {"reserved.safetensors", "'__metadata__' is reserved", 1},
        {"rank.safetensors", "rank 9 not in [0, 8]", 2},
        {"dupmeta.safetensors", "duplicate metadata key 'k'", 3},
        {"negdim.safetensors", "shape[0] = -2 out of range", 4},
        {"nulldata.safetensors", "NULL data", 5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tpath(path, sizeof path, cases[c].file);
        StWriter *w = st_writer_new();
        ASSERT(w);
        ASSERT_EQ(st_writer_add_f32(w, "v", 1, s2, v), 0);
        int rc = 0;
        switch (cases[c].kind) {
        case 0: rc = st_writer_add_f32(w, "v", 1, s2, v); break;
        case 1: rc = st_writer_add_f32(w, "__metadata__", 1, s2, v); break;
        case 2: rc = st_writer_add_f32(w, "r", 9, (int64_t[9]){1, 1, 1, 1, 1, 1, 1, 1, 1}, v);
                break;
        case 3: ASSERT_EQ(st_writer_meta(w, "k", "1"), 0); rc = st_writer_meta(w, "k", "2"); break;
        case 4: rc = st_writer_add_f32(w, "n", 1, (int64_t[]){-2}, v); break;
        case 5: rc = st_writer_add_f32(w, "n", 1, s2, NULL); break;
        }
        ASSERT_EQ(rc, -1);
        /* later valid calls do not clear the error */
        ASSERT_EQ(st_writer_add_f32(w, "later", 1, s2, v), 0);
        ASSERT_EQ(st_writer_finish(w, path, err, sizeof err), -1);
        ASSERT_CONTAINS(err, path);
        ASSERT_CONTAINS(err, cases[c].word);
        struct stat st;
        ASSERT(stat(path, &st) != 0);
    }
    ASSERT_EQ(count_entries(tdir(), ".tmp."), 0);
    ASSERT_EQ(st_writer_finish(NULL, "x", err, sizeof err), -1);
    st_writer_free(NULL);
    st_writer_free(st_writer_new());
    return 0;
}

TEST(t_find_many) {
    char path[600], err[512], name[32];
    tpath(path, sizeof path, "many.safetensors");
    StWriter *w = st_writer_new();
    ASSERT(w);
    for (int i = 0; i < 300; i++) {
        float v = (float)i;
        snprintf(name, sizeof name, "t.%d", (i * 37) % 300);
        ASSERT_EQ(st_writer_add_f32(w, name, 1, (int64_t[]){1}, &v), 0);
    }
    if (st_writer_finish(w, path, err, sizeof err)) FAIL_AT("%s", err);
    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) FAIL_AT("%s", err);
    ASSERT_EQ(f->n, 300);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "t.%d", (i * 37) % 300);
        int64_t k = st_find(f, name);
        ASSERT_EQ(k, i);
        ASSERT_FEQ(st_data_f32(f, k)[0], i);
    }
    ASSERT_EQ(st_find(f, "t.300"), -1);
    ASSERT_EQ(st_find(f, ""), -1);
    ASSERT_EQ(st_find(f, NULL), -1);
    st_close(f);
    return 0;
}

TESTS {
    T(t_truncated), T(t_header_beyond_file), T(t_bad_json), T(t_offsets_out_of_range),
    T(t_overlapping), T(t_length_mismatch), T(t_unknown_dtype), T(t_unreadable_path),
    T(t_entry_fields), T(t_duplicate_keys), T(t_metadata), T(t_valid_edge_cases),
    T(t_dtype_table), T(t_misaligned_f32), T(t_f16_exhaustive), T(t_bf16_values),
    T(t_read_converts), T(t_writer_roundtrip), T(t_writer_empty), T(t_writer_missing_dir),
    T(t_writer_rename_fails), T(t_writer_write_fails), T(t_writer_bad_args), T(t_find_many),
};

int main(int argc, char **argv) {
    int rc = check_main(argc, argv);
    if (tmpdir[0]) rm_rf(tmpdir);
    return rc;
}
