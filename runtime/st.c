/* runtime/st.c — the .safetensors reader (mmap + validated header) and the
 * atomic writer.  The header is parsed with cJSON; everything it says is
 * checked against the file before st_open returns, so later readers can trust
 * every StTensor's dtype, shape and byte range.  Layout: see st.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "st.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* dtypes, conversions, small helpers                                  */

static const struct {
    const char *name; /* spelling in the header */
    int size;         /* bytes per element */
} dtype_info[ST_DTYPE_COUNT] = {
    [ST_DTYPE_F32] = {"F32", 4},  [ST_DTYPE_F16] = {"F16", 2}, [ST_DTYPE_BF16] = {"BF16", 2},
    [ST_DTYPE_F64] = {"F64", 8},  [ST_DTYPE_I64] = {"I64", 8}, [ST_DTYPE_I32] = {"I32", 4},
    [ST_DTYPE_U8] = {"U8", 1},    [ST_DTYPE_BOOL] = {"BOOL", 1},
};

#define SUPPORTED_DTYPES "F32, F16, BF16, F64, I64, I32, U8, BOOL"
/* largest integer a JSON number (a double in cJSON) holds exactly */
#define JSON_MAX_EXACT 9007199254740992.0

const char *st_dtype_name(enum st_dtype d) {
    return (unsigned)d < ST_DTYPE_COUNT ? dtype_info[d].name : "?";
}

int st_dtype_size(enum st_dtype d) {
    return (unsigned)d < ST_DTYPE_COUNT ? dtype_info[d].size : 0;
}

int64_t st_numel(const StTensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

static bool host_le(void) {
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | man << 13); /* inf, nan + payload */
    if (exp != 0) return bits_f32(sign | (exp + 112) << 23 | man << 13);
    if (man == 0) return bits_f32(sign);                                /* +-0 */
    /* subnormal man * 2^-24: shift until the implicit bit (0x400) is set;
     * after s shifts the value is 1.f * 2^(-14 - s), biased exponent 113 - s */
    uint32_t s = 0;
    while (!(man & 0x400u)) { man <<= 1; s++; }
    return bits_f32(sign | (113 - s) << 23 | (man & 0x3ffu) << 13);
}

float st_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

/* "path: message" into err; always returns -1 */
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    if (!err || errlen == 0) return -1;
    int k = snprintf(err, errlen, "%s: ", path ? path : "(null)");
    if (k >= 0 && (size_t)k < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void shape_str(const int64_t *shape, int rank, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* ------------------------------------------------------------------ */
/* reader                                                              */

static const char *json_kind(const cJSON *j) {
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "an invalid value";
}

/* describe a value that should have been a non-negative integer */
static void json_desc(const cJSON *j, char *buf, size_t n) {
    if (cJSON_IsNumber(j)) snprintf(buf, n, "%.17g", j->valuedouble);
    else snprintf(buf, n, "%s", json_kind(j));
}

/* true when j is an integer in [0, 2^53] (exact in a double) */
static bool json_uint(const cJSON *j, uint64_t *v) {
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= JSON_MAX_EXACT) || d != floor(d)) return false;
    *v = (uint64_t)d;
    return true;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate key among the members of object o: 0 with *dup = a duplicated
 * key or NULL; -1 when out of memory. */
static int find_dup(const cJSON *o, const char **dup) {
    *dup = NULL;
    int n = cJSON_GetArraySize(o), k = 0;
    if (n < 2) return 0;
    const char **keys = malloc((size_t)n * sizeof *keys);
    if (!keys) return -1;
    const cJSON *c;
    cJSON_ArrayForEach(c, o) keys[k++] = c->string ? c->string : "";
    qsort(keys, (size_t)k, sizeof *keys, cmp_str);
    for (int i = 1; i < k && !*dup; i++)
        if (!strcmp(keys[i - 1], keys[i])) *dup = keys[i];
    free(keys);
    return 0;
}

static int cmp_begin(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const StTensor *const *)a)->name, (*(const StTensor *const *)b)->name);
}

static char *arena_put(char **p, const char *s) {
    size_t n = strlen(s) + 1;
    char *r = memcpy(*p, s, n);
    *p += n;
    return r;
}

/* One header entry: fills t (except name); 0 or -1 + err. */
static int parse_entry(const StFile *f, const char *path, const char *key, const cJSON *e,
                       StTensor *t, char *err, size_t errlen) {
    if (!cJSON_IsObject(e))
        return fail(err, errlen, path, "tensor '%s': entry is %s, expected an object "
                    "with dtype, shape and data_offsets", key, json_kind(e));
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!dt) return fail(err, errlen, path, "tensor '%s': missing \"dtype\"", key);
    if (!sh) return fail(err, errlen, path, "tensor '%s': missing \"shape\"", key);
    if (!of) return fail(err, errlen, path, "tensor '%s': missing \"data_offsets\"", key);

    if (!cJSON_IsString(dt))
        return fail(err, errlen, path, "tensor '%s': \"dtype\" is %s, expected a string",
                    key, json_kind(dt));
    int d = 0;
    while (d < ST_DTYPE_COUNT && strcmp(dt->valuestring, dtype_info[d].name)) d++;
    if (d == ST_DTYPE_COUNT)
        return fail(err, errlen, path, "tensor '%s': unsupported dtype \"%s\" (supported: "
                    SUPPORTED_DTYPES ")", key, dt->valuestring);
    t->dtype = (enum st_dtype)d;

    if (!cJSON_IsArray(sh))
        return fail(err, errlen, path, "tensor '%s': \"shape\" is %s, expected an array of "
                    "non-negative integers", key, json_kind(sh));
    int rank = cJSON_GetArraySize(sh);
    if (rank > ST_MAX_RANK)
        return fail(err, errlen, path, "tensor '%s': shape has %d dims, at most %d supported",
                    key, rank, ST_MAX_RANK);
    t->rank = rank;
    int64_t numel = 1;
    bool overflow = false;
    for (int i = 0; i < rank; i++) {
        const cJSON *dim = cJSON_GetArrayItem(sh, i);
        uint64_t v;
        if (!json_uint(dim, &v)) {
            char desc[64];
            json_desc(dim, desc, sizeof desc);
            return fail(err, errlen, path, "tensor '%s': shape[%d] is %s, expected a "
                        "non-negative integer", key, i, desc);
        }
        t->shape[i] = (int64_t)v;
        if (v != 0 && numel > INT64_MAX / (int64_t)v) overflow = true;
        else numel *= (int64_t)v;
    }
    char shp[160];
    shape_str(t->shape, rank, shp, sizeof shp);
    int esize = dtype_info[d].size;
    if (overflow || numel > INT64_MAX / esize)
        return fail(err, errlen, path, "tensor '%s': shape %s is too large", key, shp);

    if (!cJSON_IsArray(of))
        return fail(err, errlen, path, "tensor '%s': \"data_offsets\" is %s, expected "
                    "[begin, end]", key, json_kind(of));
    int nof = cJSON_GetArraySize(of);
    if (nof != 2)
        return fail(err, errlen, path, "tensor '%s': \"data_offsets\" has %d entries, "
                    "expected 2 integers [begin, end]", key, nof);
    uint64_t be[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *o = cJSON_GetArrayItem(of, i);
        if (!json_uint(o, &be[i])) {
            char desc[64];
            json_desc(o, desc, sizeof desc);
            return fail(err, errlen, path, "tensor '%s': data_offsets[%d] is %s, expected "
                        "a non-negative integer", key, i, desc);
        }
    }
    t->begin = be[0];
    t->end = be[1];
    if (t->begin > t->end)
        return fail(err, errlen, path, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                    "] not ordered (begin > end)", key, t->begin, t->end);
    if (t->end > f->data_len)
        return fail(err, errlen, path, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                    "] end %" PRIu64 " is beyond the data blob of %zu bytes", key, t->begin,
                    t->end, t->end, f->data_len);
    uint64_t want = (uint64_t)numel * (uint64_t)esize, have = t->end - t->begin;
    if (have != want)
        return fail(err, errlen, path, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                    "] span %" PRIu64 " bytes, but %s shape %s needs %" PRIu64 " (%" PRId64
                    " elements x %d bytes)", key, t->begin, t->end, have, dtype_info[d].name,
                    shp, want, numel, esize);
    return 0;
}

/* Parse and validate the header text h[0..n) (NUL-terminated copy). */
static int parse_header(StFile *f, const char *path, const char *h, size_t n, char *err,
                        size_t errlen) {
    const char *nul = memchr(h, '\0', n);
    if (nul)
        return fail(err, errlen, path, "header contains a NUL byte at offset %zu of %zu",
                    (size_t)(nul - h), n);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, n, &end, 0);
    if (!root) {
        size_t pos = end && end >= h && end <= h + n ? (size_t)(end - h) : 0;
        char near[32];
        size_t k = 0;
        for (size_t i = pos; i < n && k < 24; i++)
            near[k++] = (h[i] >= 0x20 && h[i] < 0x7f) ? h[i] : '?';
        near[k] = '\0';
        return fail(err, errlen, path, "header (%zu bytes) is not valid JSON: error at byte "
                    "%zu near \"%s\"", n, pos, near);
    }
    int rc = -1;
    const char *p = end ? end : h + n;
    while (p < h + n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p != h + n) {
        fail(err, errlen, path, "header has trailing bytes after the JSON value, at byte %zu "
             "of %zu", (size_t)(p - h), n);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        fail(err, errlen, path, "header is %s, expected a JSON object", json_kind(root));
        goto out;
    }
    const char *dup;
    if (find_dup(root, &dup)) { fail(err, errlen, path, "out of memory"); goto out; }
    if (dup) { fail(err, errlen, path, "duplicate key '%s' in header", dup); goto out; }

    /* count, and size the string block */
    size_t strbytes = strlen(path) + 1;
    int ntensor = 0, nmeta = 0;
    const cJSON *c, *metaobj = NULL;
    cJSON_ArrayForEach(c, root) {
        if (!strcmp(c->string, "__metadata__")) {
            metaobj = c;
            continue;
        }
        ntensor++;
        strbytes += strlen(c->string) + 1;
    }
    if (metaobj) {
        if (!cJSON_IsObject(metaobj)) {
            fail(err, errlen, path, "\"__metadata__\" is %s, expected an object of strings",
                 json_kind(metaobj));
            goto out;
        }
        if (find_dup(metaobj, &dup)) { fail(err, errlen, path, "out of memory"); goto out; }
        if (dup) {
            fail(err, errlen, path, "duplicate key '%s' in \"__metadata__\"", dup);
            goto out;
        }
        cJSON_ArrayForEach(c, metaobj) {
            if (!cJSON_IsString(c)) {
                fail(err, errlen, path, "\"__metadata__\" entry '%s' is %s, expected a string",
                     c->string, json_kind(c));
                goto out;
            }
            nmeta++;
            strbytes += strlen(c->string) + strlen(c->valuestring) + 2;
        }
    }

    f->strings = malloc(strbytes);
    f->t = calloc((size_t)ntensor + 1, sizeof *f->t);
    f->by_name = calloc((size_t)ntensor + 1, sizeof *f->by_name);
    f->meta = calloc((size_t)nmeta + 1, sizeof *f->meta);
    StTensor **order = calloc((size_t)ntensor + 1, sizeof *order);
    if (!f->strings || !f->t || !f->by_name || !f->meta || !order) {
        free(order);
        fail(err, errlen, path, "out of memory");
        goto out;
    }
    char *sp = f->strings;
    f->path = arena_put(&sp, path);

    cJSON_ArrayForEach(c, root) {
        if (c == metaobj) continue;
        StTensor *t = &f->t[f->n];
        if (parse_entry(f, path, c->string, c, t, err, errlen)) {
            free(order);
            goto out;
        }
        t->name = arena_put(&sp, c->string);
        f->n++;
    }
    if (metaobj) {
        cJSON_ArrayForEach(c, metaobj) {
            f->meta[f->nmeta].key = arena_put(&sp, c->string);
            f->meta[f->nmeta].value = arena_put(&sp, c->valuestring);
            f->nmeta++;
        }
    }

    /* overlap: sort the non-empty tensors by begin; each must start at or
     * after the end of the one before (whose end is then the largest yet) */
    int k = 0;
    for (int i = 0; i < f->n; i++)
        if (f->t[i].end > f->t[i].begin) order[k++] = &f->t[i];
    qsort(order, (size_t)k, sizeof *order, cmp_begin);
    for (int i = 1; i < k; i++) {
        const StTensor *a = order[i - 1], *b = order[i];
        if (b->begin < a->end) {
            fail(err, errlen, path, "tensors '%s' data_offsets [%" PRIu64 ", %" PRIu64
                 "] and '%s' data_offsets [%" PRIu64 ", %" PRIu64 "] overlap in the data blob",
                 a->name, a->begin, a->end, b->name, b->begin, b->end);
            free(order);
            goto out;
        }
    }

    for (int i = 0; i < f->n; i++) order[i] = &f->t[i];
    qsort(order, (size_t)f->n, sizeof *order, cmp_name);
    for (int i = 0; i < f->n; i++) f->by_name[i] = (int)(order[i] - f->t);
    free(order);
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

static int load(StFile *f, const char *path, char *err, size_t errlen) {
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st)) return fail(err, errlen, path, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail(err, errlen, path, "not a regular file");
    if (st.st_size < 8)
        return fail(err, errlen, path, "file is %lld bytes, shorter than the 8-byte header "
                    "length prefix", (long long)st.st_size);
    if ((uint64_t)st.st_size > SIZE_MAX)
        return fail(err, errlen, path, "file of %lld bytes is too large to map",
                    (long long)st.st_size);
    f->size = (size_t)st.st_size;
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (m == MAP_FAILED) return fail(err, errlen, path, "cannot map: %s", strerror(errno));
    f->map = m;
    const unsigned char *b = m;
    uint64_t n = le64(b);
    size_t avail = f->size - 8;
    if (n > avail)
        return fail(err, errlen, path, "header length %" PRIu64 " is beyond the file: only "
                    "%zu bytes follow the 8-byte prefix (file is %zu bytes)", n, avail, f->size);
    if (n > ST_MAX_HEADER)
        return fail(err, errlen, path, "header length %" PRIu64 " is above the limit of %d bytes (the "
                    "safetensors format's own)", n, ST_MAX_HEADER);
    f->header_len = n;
    f->data = b + 8 + n;
    f->data_len = avail - (size_t)n;
    char *h = malloc((size_t)n + 1);
    if (!h) return fail(err, errlen, path, "out of memory for a %" PRIu64 "-byte header", n);
    memcpy(h, b + 8, (size_t)n);
    h[n] = '\0';
    int rc = parse_header(f, path, h, (size_t)n, err, errlen);
    free(h);
    return rc;
}

int st_open(const char *path, StFile **out, char *err, size_t errlen) {
    if (out) *out = NULL;
    if (!path || !out) return fail(err, errlen, path, "st_open: NULL argument");
    if (err && errlen) err[0] = '\0';
    StFile *f = calloc(1, sizeof *f);
    if (!f) return fail(err, errlen, path, "out of memory");
    f->fd = -1;
    if (load(f, path, err, errlen)) {
        st_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void st_close(StFile *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    if (f->fd >= 0) close(f->fd);
    free(f->t);
    free(f->meta);
    free(f->by_name);
    free(f->strings);
    free(f);
}

int64_t st_find(const StFile *f, const char *name) {
    if (!f || !name) return -1;
    int lo = 0, hi = f->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->t[f->by_name[mid]].name, name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

const char *st_meta(const StFile *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

int st_read_f32(const StFile *f, int64_t idx, float *dst, char *err, size_t errlen) {
    if (!f) return fail(err, errlen, "(null)", "st_read_f32: no file");
    if (idx < 0 || idx >= f->n)
        return fail(err, errlen, f->path, "tensor index %" PRId64 " out of range [0, %d)", idx,
                    f->n);
    const StTensor *t = &f->t[idx];
    const unsigned char *p = f->data + t->begin;
    int64_t n = st_numel(t);
    if (n > 0 && !dst) return fail(err, errlen, f->path, "tensor '%s': NULL destination", t->name);
    switch (t->dtype) {
    case ST_DTYPE_F32:
        if (host_le()) {
            if (n > 0) memcpy(dst, p, (size_t)n * sizeof *dst);
        } else {
            for (int64_t i = 0; i < n; i++) dst[i] = bits_f32(le32(p + 4 * i));
        }
        return 0;
    case ST_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = st_f16_to_f32(le16(p + 2 * i));
        return 0;
    case ST_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = st_bf16_to_f32(le16(p + 2 * i));
        return 0;
    case ST_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            uint64_t u = le64(p + 8 * i);
            double d;
            memcpy(&d, &u, sizeof d);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return fail(err, errlen, f->path, "tensor '%s' has dtype %s; only F32, F16, BF16 and "
                    "F64 convert to float32", t->name, st_dtype_name(t->dtype));
    }
}

const float *st_data_f32(const StFile *f, int64_t idx) {
    if (!f || idx < 0 || idx >= f->n || f->t[idx].dtype != ST_DTYPE_F32 || !host_le())
        return NULL;
    const unsigned char *p = f->data + f->t[idx].begin;
    if ((uintptr_t)p % _Alignof(float)) return NULL;
    return (const float *)(const void *)p;
}

/* ------------------------------------------------------------------ */
/* writer                                                              */

typedef struct {
    char *name;                 /* tensor key (owned) */
    enum st_dtype dtype;        /* element type */
    int rank;                   /* number of dims */
    int64_t shape[ST_MAX_RANK]; /* dims */
    unsigned char *bytes;       /* little-endian data (owned) */
    size_t nbytes;              /* length of bytes */
} WTensor;

typedef struct {
    char *key;   /* metadata key (owned) */
    char *value; /* metadata value (owned) */
} WMeta;

struct StWriter {
    WTensor *t;    /* tensors in the order added */
    int n, cap;    /* count, capacity of t */
    WMeta *m;      /* metadata in the order added */
    int nm, capm;  /* count, capacity of m */
    char err[512]; /* first error of an add/meta call; "" when none */
};

typedef struct {
    char *p;       /* bytes */
    size_t n, cap; /* length, capacity */
    bool oom;      /* an append failed */
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) { b->oom = true; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_json_str(Buf *b, const char *s) {
    buf_add(b, "\"", 1);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') {
            char esc[2] = {'\\', (char)*q};
            buf_add(b, esc, 2);
        } else if (*q < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *q);
            buf_str(b, esc);
        } else {
            buf_add(b, (const char *)q, 1);
        }
    }
    buf_add(b, "\"", 1);
}

static int werr(StWriter *w, const char *fmt, ...) {
    if (!w->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, sizeof w->err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

StWriter *st_writer_new(void) { return calloc(1, sizeof(StWriter)); }

void st_writer_free(StWriter *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].bytes);
    }
    for (int i = 0; i < w->nm; i++) {
        free(w->m[i].key);
        free(w->m[i].value);
    }
    free(w->t);
    free(w->m);
    free(w);
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    return r ? memcpy(r, s, n) : NULL;
}

int st_writer_add_raw(StWriter *w, const char *name, enum st_dtype dtype, int rank,
                      const int64_t *shape, const void *data) {
    if (!w) return -1;
    if (!name) return werr(w, "tensor with a NULL name");
    if (!strcmp(name, "__metadata__")) return werr(w, "tensor name '__metadata__' is reserved");
    if ((unsigned)dtype >= ST_DTYPE_COUNT)
        return werr(w, "tensor '%s': invalid dtype %d", name, (int)dtype);
    if (rank < 0 || rank > ST_MAX_RANK)
        return werr(w, "tensor '%s': rank %d not in [0, %d]", name, rank, ST_MAX_RANK);
    if (rank > 0 && !shape) return werr(w, "tensor '%s': NULL shape", name);
    int esize = dtype_info[dtype].size;
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || (double)shape[i] > JSON_MAX_EXACT)
            return werr(w, "tensor '%s': shape[%d] = %" PRId64 " out of range", name, i, shape[i]);
        if (shape[i] && numel > (uint64_t)INT64_MAX / (uint64_t)shape[i] / (uint64_t)esize)
            return werr(w, "tensor '%s': too many elements", name);
        numel *= (uint64_t)shape[i];
    }
    uint64_t nbytes = numel * (uint64_t)esize;
    if (nbytes > SIZE_MAX) return werr(w, "tensor '%s': too large", name);
    if (nbytes && !data) return werr(w, "tensor '%s': NULL data", name);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return werr(w, "duplicate tensor name '%s'", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        WTensor *q = realloc(w->t, (size_t)cap * sizeof *q);
        if (!q) return werr(w, "out of memory");
        w->t = q;
        w->cap = cap;
    }
    WTensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = dupstr(name);
    t->bytes = malloc(nbytes ? (size_t)nbytes : 1);
    if (!t->name || !t->bytes) {
        free(t->name);
        free(t->bytes);
        return werr(w, "out of memory for tensor '%s'", name);
    }
    if (nbytes) memcpy(t->bytes, data, (size_t)nbytes);
    t->nbytes = (size_t)nbytes;
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
    w->n++;
    return 0;
}

int st_writer_add_f32(StWriter *w, const char *name, int rank, const int64_t *shape,
                      const float *data) {
    if (st_writer_add_raw(w, name, ST_DTYPE_F32, rank, shape, data)) return -1;
    if (!host_le()) { /* stored bytes must be little-endian */
        WTensor *t = &w->t[w->n - 1];
        for (size_t i = 0; i + 4 <= t->nbytes; i += 4) {
            unsigned char *q = t->bytes + i, s0 = q[0], s1 = q[1];
            q[0] = q[3]; q[1] = q[2]; q[2] = s1; q[3] = s0;
        }
    }
    return 0;
}

int st_writer_meta(StWriter *w, const char *key, const char *value) {
    if (!w) return -1;
    if (!key || !value) return werr(w, "metadata with a NULL key or value");
    for (int i = 0; i < w->nm; i++)
        if (!strcmp(w->m[i].key, key)) return werr(w, "duplicate metadata key '%s'", key);
    if (w->nm == w->capm) {
        int cap = w->capm ? 2 * w->capm : 8;
        WMeta *q = realloc(w->m, (size_t)cap * sizeof *q);
        if (!q) return werr(w, "out of memory");
        w->m = q;
        w->capm = cap;
    }
    WMeta *m = &w->m[w->nm];
    m->key = dupstr(key);
    m->value = dupstr(value);
    if (!m->key || !m->value) {
        free(m->key);
        free(m->value);
        return werr(w, "out of memory");
    }
    w->nm++;
    return 0;
}

/* header JSON, padded with spaces so that 8 + length is a multiple of 8 */
static int build_header(const StWriter *w, Buf *b) {
    char num[64];
    uint64_t off = 0;
    buf_str(b, "{");
    if (w->nm) {
        buf_str(b, "\"__metadata__\":{");
        for (int i = 0; i < w->nm; i++) {
            if (i) buf_str(b, ",");
            buf_json_str(b, w->m[i].key);
            buf_str(b, ":");
            buf_json_str(b, w->m[i].value);
        }
        buf_str(b, "}");
    }
    for (int i = 0; i < w->n; i++) {
        const WTensor *t = &w->t[i];
        if (i || w->nm) buf_str(b, ",");
        buf_json_str(b, t->name);
        buf_str(b, ":{\"dtype\":\"");
        buf_str(b, dtype_info[t->dtype].name);
        buf_str(b, "\",\"shape\":[");
        for (int j = 0; j < t->rank; j++) {
            snprintf(num, sizeof num, "%s%" PRId64, j ? "," : "", t->shape[j]);
            buf_str(b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off,
                 off + t->nbytes);
        buf_str(b, num);
        off += t->nbytes;
    }
    buf_str(b, "}");
    while (b->n % 8) buf_str(b, " ");
    return b->oom ? -1 : 0;
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t k = write(fd, c, chunk);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) { /* no progress and no error: give up rather than spin */
            errno = EIO;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static atomic_uint tmp_counter;

int st_writer_finish(StWriter *w, const char *path, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!w) return fail(err, errlen, path, "st_writer_finish: no writer");
    if (!path) {
        st_writer_free(w);
        return fail(err, errlen, path, "st_writer_finish: NULL path");
    }
    if (w->err[0]) {
        fail(err, errlen, path, "%s", w->err);
        st_writer_free(w);
        return -1;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
        st_writer_free(w);
        return fail(err, errlen, path, "not a file name");
    }

    int rc = -1, fd = -1;
    bool made = false; /* tmp exists on disk and must go on failure */
    Buf hb = {0};
    size_t dirlen = (size_t)(base - path); /* includes the slash */
    char *tmp = malloc(strlen(path) + 64);
    if (!tmp || build_header(w, &hb)) {
        fail(err, errlen, path, "out of memory");
        goto out;
    }
    for (int tries = 0; fd < 0; tries++) {
        snprintf(tmp, strlen(path) + 64, "%.*s.%s.tmp.%ld.%u", (int)dirlen, path, base,
                 (long)getpid(), atomic_fetch_add(&tmp_counter, 1u));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && (errno != EEXIST || tries > 100)) {
            fail(err, errlen, path, "cannot create temporary file '%s': %s", tmp,
                 strerror(errno));
            goto out;
        }
    }
    made = true;
    unsigned char len8[8];
    put_le64(len8, hb.n);
    bool ok = !write_all(fd, len8, 8) && !write_all(fd, hb.p, hb.n);
    for (int i = 0; ok && i < w->n; i++) ok = !write_all(fd, w->t[i].bytes, w->t[i].nbytes);
    const char *step = NULL; /* the step that failed, with its errno in e */
    int e = 0;
    if (!ok) { step = "write to"; e = errno; }
    else if (fsync(fd)) { step = "fsync of"; e = errno; }
    int cfd = fd;
    fd = -1;
    if (close(cfd) && !step) { step = "close of"; e = errno; }
    if (step) {
        fail(err, errlen, path, "%s '%s' failed: %s", step, tmp, strerror(e));
        goto out;
    }
    if (rename(tmp, path)) {
        fail(err, errlen, path, "cannot rename '%s' into place: %s", tmp, strerror(errno));
        goto out;
    }
    made = false;
    /* make the rename durable; best effort (some filesystems refuse) */
    {
        char *dir = malloc(dirlen + 2);
        if (dir) {
            if (dirlen) { memcpy(dir, path, dirlen); dir[dirlen] = '\0'; }
            else strcpy(dir, ".");
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) { (void)fsync(dfd); close(dfd); }
            free(dir);
        }
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (made) unlink(tmp);
    free(tmp);
    free(hb.p);
    st_writer_free(w);
    return rc;
}
