/* runtime/app/index.c — the component index: opening and reading one
 * (index.json + shard files, read on demand), module ids (a content hash of
 * module, weights and decomposition options) and merging shard indexes.
 * Building one is index_build.c.  Format: README.md, "Component index". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_int.h"
#include "st.h"
#include "vitint.h"

struct vit_index {
    char *dir;               /* the index directory (owned copy) */
    cJSON *man;              /* the parsed manifest; the strings below point into it */
    char *components;        /* the decomposition sidecar, printed */
    const char *module_id, *module, *weights, *source;
    vit_decomp_opts opts;    /* strings point into man */
    int64_t total;           /* images in the folder */
    int64_t count;           /* images indexed */
    int ncomp, dim, chunk, nclasses, nshards;
    const char **paths;      /* [total] image paths relative to the folder */
    int *labels;             /* [total] class or -1 */
    const char **classes;    /* [nclasses] */
    const char **files;      /* [nshards] shard file names */
    int64_t *ids;            /* [count] image id (position in paths) of each indexed image */
    int *shard_of;           /* [count] shard holding it */
    int64_t *row_of;         /* [count] its row in that shard */
};

/* ---- helpers shared with index_build.c ---- */

char *ix_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void ix_shard_name(int k, char *buf, size_t len) { snprintf(buf, len, "shard-%05d.safetensors", k); }

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = 2 * cap + 65536 + 1;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); errno = ENOMEM; return NULL; }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); errno = EIO; return NULL; }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int ix_manifest_load(vit_ctx *ctx, const char *dir, cJSON **out) {
    *out = NULL;
    char *path = ix_join(dir, IX_MANIFEST);
    if (!path) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    char *text = slurp(path, NULL);
    if (!text) {
        int rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s (not a component index?)", path, strerror(errno));
        free(path);
        return rc;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    int rc = VIT_OK;
    if (!j) rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: not valid JSON", path);
    else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, IX_FORMAT))
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: not a component index manifest (no \"format\": \"" IX_FORMAT "\")", path);
    else if (!cJSON_IsNumber(ver) || ver->valueint != IX_VERSION)
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: index format version %d; this build reads version %d", path,
                          cJSON_IsNumber(ver) ? ver->valueint : -1, IX_VERSION);
    free(path);
    if (rc) cJSON_Delete(j);
    else *out = j;
    return rc;
}

int ix_manifest_save(vit_ctx *ctx, const char *dir, const cJSON *man) {
    char *text = cJSON_Print(man);
    char *path = ix_join(dir, IX_MANIFEST);
    size_t n = strlen(dir) + 64;
    char *tmp = malloc(n);
    int rc = VIT_OK;
    if (!text || !path || !tmp) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    snprintf(tmp, n, "%s/.%s.tmp.%ld", dir, IX_MANIFEST, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) { rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: cannot write: %s", path, strerror(errno)); goto done; }
    size_t len = strlen(text), off = 0;
    text[len++] = '\n'; /* replaces the NUL: written as a text file */
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, path)) {
        rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: write failed: %s", path, strerror(ok ? errno : e));
        unlink(tmp);
    }
done:
    free(text);
    free(path);
    free(tmp);
    return rc;
}

static int entry_chunk(const cJSON *e) { return cJSON_GetObjectItemCaseSensitive(e, "chunk")->valueint; }

static int cmp_entry(const void *a, const void *b) {
    int x = entry_chunk(*(cJSON *const *)a), y = entry_chunk(*(cJSON *const *)b);
    return (x > y) - (x < y);
}

void ix_manifest_sort(cJSON *man) {
    cJSON *shards = cJSON_GetObjectItemCaseSensitive(man, "shards");
    int n = cJSON_GetArraySize(shards);
    if (n < 2) return;
    cJSON **v = malloc(sizeof(cJSON *) * (size_t)n);
    if (!v) return;
    for (int i = n - 1; i >= 0; i--) v[i] = cJSON_DetachItemFromArray(shards, i);
    qsort(v, (size_t)n, sizeof *v, cmp_entry);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(shards, v[i]);
    free(v);
}

int ix_is_temp(const char *s) {
    return s[0] == '.' && strstr(s, ".tmp.") && (!strncmp(s, "." IX_MANIFEST ".tmp.", strlen(IX_MANIFEST) + 6) || !strncmp(s, ".shard-", 7));
}

void ix_clean_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *s = de->d_name;
        if (ix_is_temp(s)) {
            char *p = ix_join(dir, s);
            if (p) unlink(p);
            free(p);
        }
    }
    closedir(d);
}

/* ---- content hash: two 64-bit lanes over 8-byte words, finalised with splitmix's mixer ---- */

typedef struct { uint64_t a, b, n; } Hash;

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t fmix(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static void hash_word(Hash *h, uint64_t w) {
    h->a = rotl(h->a ^ w, 31) * 0x9e3779b97f4a7c15ull;
    h->b = rotl(h->b + w, 27) * 0xc2b2ae3d27d4eb4full + 0x165667b19e3779f9ull;
}
static void hash_bytes(Hash *h, const unsigned char *p, size_t len) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        hash_word(h, w);
    }
    uint64_t w = 0;
    memcpy(&w, p + i, len - i);
    hash_word(h, w ^ ((uint64_t)(len - i) << 56));
    h->n += len;
}
static void hash_hex(const Hash *h, char hex[VIT_MODULE_ID_LEN]) {
    uint64_t a = fmix(h->a ^ h->n), b = fmix(h->b ^ rotl(h->n, 17) ^ a);
    snprintf(hex, VIT_MODULE_ID_LEN, "%016llx%016llx", (unsigned long long)fmix(a ^ h->b), (unsigned long long)b);
}

void ix_hash_mem(const void *p, size_t len, char hex[VIT_MODULE_ID_LEN]) {
    Hash h = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0};
    hash_bytes(&h, p, len);
    hash_hex(&h, hex);
}

int ix_hash_file(vit_ctx *ctx, const char *path, char hex[VIT_MODULE_ID_LEN]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        int rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return rc;
    }
    size_t len = (size_t)sb.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (len && map == MAP_FAILED) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    ix_hash_mem(map, len, hex);
    if (len) munmap(map, len);
    return VIT_OK;
}

void ix_opts_key(const vit_decomp_opts *o, char *buf, size_t len) {
    static const vit_decomp_opts none = {0};
    if (!o) o = &none;
    snprintf(buf, len, "output=%s split=%s from=%s bias=%s ln=%s directions=%d", o->output ? o->output : "repr",
             o->split ? o->split : "", o->from ? o->from : "", o->bias ? o->bias : "equal", o->ln ? o->ln : "exact",
             o->directions);
}

void ix_combine_id(const char *module_hash, const char *weights_hash, const char *opts_key, char id[VIT_MODULE_ID_LEN]) {
    Hash h = {0x452821e638d01377ull, 0xbe5466cf34e90c6cull, 0};
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "module %s\nweights %s\noptions %s\n", module_hash, weights_hash, opts_key);
    hash_bytes(&h, (const unsigned char *)buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    hash_hex(&h, id);
}

int vit_file_hash(vit_ctx *ctx, const char *path, char hex[VIT_MODULE_ID_LEN]) { return ix_hash_file(ctx, path, hex); }

int vit_module_id(vit_ctx *ctx, const char *module, const char *weights, const vit_decomp_opts *opts,
                  char id[VIT_MODULE_ID_LEN]) {
    char mh[VIT_MODULE_ID_LEN], wh[VIT_MODULE_ID_LEN], key[1024];
    if (ix_hash_file(ctx, module, mh) || ix_hash_file(ctx, weights, wh)) return VIT_ERR_IO;
    ix_opts_key(opts, key, sizeof key);
    ix_combine_id(mh, wh, key, id);
    return VIT_OK;
}

/* ---- opening ---- */

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static int64_t jint(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

void vit_index_close(vit_index *ix) {
    if (!ix) return;
    free(ix->dir);
    cJSON_Delete(ix->man);
    free(ix->components);
    free(ix->paths);
    free(ix->labels);
    free(ix->classes);
    free(ix->files);
    free(ix->ids);
    free(ix->shard_of);
    free(ix->row_of);
    free(ix);
}

/* The manifest's fields into ix; a message naming what is wrong otherwise. */
static int index_fill(vit_ctx *ctx, vit_index *ix) {
    const cJSON *m = ix->man, *opts = cJSON_GetObjectItemCaseSensitive(m, "options");
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(m, "images");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(m, "labels");
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(m, "classes");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(m, "shards");
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(m, "components");
    ix->module_id = jstr(m, "module_id");
    ix->module = jstr(m, "module");
    ix->weights = jstr(m, "weights");
    ix->source = jstr(m, "source");
    ix->total = jint(m, "total");
    int64_t ncomp = jint(m, "ncomp"), dim = jint(m, "dim"), chunk = jint(m, "chunk");
    const char *bad = !ix->module_id || !ix->module || !ix->weights || !ix->source ? "module_id, module, weights or source"
                      : !cJSON_IsObject(opts)                                        ? "options"
                      : ncomp < 1 || ncomp > 1 << 30 || dim < 1 || dim > 1 << 30     ? "ncomp or dim"
                      : chunk < 1 || chunk > 1 << 30                                 ? "chunk"
                      : !cJSON_IsArray(images) || cJSON_GetArraySize(images) != ix->total ? "images (one per image: total)"
                      : !cJSON_IsArray(labels) || cJSON_GetArraySize(labels) != ix->total ? "labels (one per image: total)"
                      : !cJSON_IsArray(classes)                                       ? "classes"
                      : !cJSON_IsArray(shards)                                        ? "shards"
                      : !cJSON_IsObject(comps)                                        ? "components"
                                                                                     : NULL;
    if (bad) return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s/" IX_MANIFEST ": missing or invalid %s", ix->dir, bad);
    ix->ncomp = (int)ncomp;
    ix->dim = (int)dim;
    ix->chunk = (int)chunk;
    ix->opts.output = jstr(opts, "output");
    ix->opts.split = jstr(opts, "split");
    ix->opts.from = jstr(opts, "from");
    ix->opts.bias = jstr(opts, "bias");
    ix->opts.ln = jstr(opts, "ln");
    ix->components = cJSON_PrintUnformatted(comps);
    ix->nclasses = cJSON_GetArraySize(classes);
    ix->nshards = cJSON_GetArraySize(shards);
    size_t t = (size_t)ix->total + 1;
    ix->paths = calloc(t, sizeof *ix->paths);
    ix->labels = calloc(t, sizeof *ix->labels);
    ix->classes = calloc((size_t)ix->nclasses + 1, sizeof *ix->classes);
    ix->files = calloc((size_t)ix->nshards + 1, sizeof *ix->files);
    ix->ids = calloc(t, sizeof *ix->ids);
    ix->shard_of = calloc(t, sizeof *ix->shard_of);
    ix->row_of = calloc(t, sizeof *ix->row_of);
    if (!ix->components || !ix->paths || !ix->labels || !ix->classes || !ix->files || !ix->ids || !ix->shard_of || !ix->row_of)
        return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    int c = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, classes) {
        if (!cJSON_IsString(it)) return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s/" IX_MANIFEST ": a class name is not a string", ix->dir);
        ix->classes[c++] = it->valuestring;
    }
    int64_t i = 0;
    cJSON_ArrayForEach(it, images) {
        if (!cJSON_IsString(it)) return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s/" IX_MANIFEST ": image %lld is not a path", ix->dir, (long long)i);
        ix->paths[i++] = it->valuestring;
    }
    i = 0;
    cJSON_ArrayForEach(it, labels) {
        int l = cJSON_IsNumber(it) ? it->valueint : -2;
        if (l < -1 || l >= ix->nclasses)
            return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s/" IX_MANIFEST ": label %lld out of range", ix->dir, (long long)i);
        ix->labels[i++] = l;
    }
    /* the indexed images: each shard's chunk minus its skipped images, shards in chunk order */
    int s = 0, prev = -1;
    cJSON_ArrayForEach(it, shards) {
        int k = (int)jint(it, "chunk");
        int64_t len = ix_chunk_len(ix->total, ix->chunk, k), rows = jint(it, "count");
        const cJSON *skipped = cJSON_GetObjectItemCaseSensitive(it, "skipped");
        int nskip = cJSON_GetArraySize(skipped);
        ix->files[s] = jstr(it, "file");
        if (k <= prev || len == 0 || !ix->files[s] || rows != len - nskip)
            return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s/" IX_MANIFEST ": shard entry %d is inconsistent (chunk %d, count %lld)",
                                ix->dir, s, k, (long long)rows);
        prev = k;
        int64_t first = (int64_t)k * ix->chunk, row = 0;
        for (int64_t id = first; id < first + len; id++) {
            int skip = 0;
            const cJSON *q;
            cJSON_ArrayForEach(q, skipped) skip |= jint(q, "image") == id;
            if (skip) continue;
            ix->ids[ix->count] = id;
            ix->shard_of[ix->count] = s;
            ix->row_of[ix->count++] = row++;
        }
        s++;
    }
    return VIT_OK;
}

int vit_index_open(vit_ctx *ctx, const char *dir, vit_index **out) {
    *out = NULL;
    vit_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->dir = strdup(dir))) { free(ix); return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); }
    int rc = ix_manifest_load(ctx, dir, &ix->man);
    if (!rc) rc = index_fill(ctx, ix);
    if (rc) { vit_index_close(ix); return rc; }
    *out = ix;
    return VIT_OK;
}

int64_t vit_index_count(const vit_index *ix) { return ix->count; }
int64_t vit_index_total(const vit_index *ix) { return ix->total; }
int vit_index_ncomp(const vit_index *ix) { return ix->ncomp; }
int vit_index_dim(const vit_index *ix) { return ix->dim; }
const char *vit_index_components_json(const vit_index *ix) { return ix->components; }
const char *vit_index_module_id(const vit_index *ix) { return ix->module_id; }
const char *vit_index_module_path(const vit_index *ix) { return ix->module; }
const char *vit_index_weights_path(const vit_index *ix) { return ix->weights; }
const char *vit_index_weights_hash(const vit_index *ix) { return jstr(ix->man, "weights_hash"); }
const char *vit_index_source(const vit_index *ix) { return ix->source; }
const vit_decomp_opts *vit_index_decomp_opts(const vit_index *ix) { return &ix->opts; }
int vit_index_nclasses(const vit_index *ix) { return ix->nclasses; }

const char *vit_index_image_path(const vit_index *ix, int64_t i) {
    return i >= 0 && i < ix->count ? ix->paths[ix->ids[i]] : NULL;
}
int64_t vit_index_image_id(const vit_index *ix, int64_t i) { return i >= 0 && i < ix->count ? ix->ids[i] : -1; }
int vit_index_label(const vit_index *ix, int64_t i) { return i >= 0 && i < ix->count ? ix->labels[ix->ids[i]] : -1; }
const char *vit_index_class_name(const vit_index *ix, int c) { return c >= 0 && c < ix->nclasses ? ix->classes[c] : NULL; }

int vit_index_check_module(vit_ctx *ctx, const vit_index *ix, const char *module, const char *weights) {
    char mh[VIT_MODULE_ID_LEN], wh[VIT_MODULE_ID_LEN], key[1024], id[VIT_MODULE_ID_LEN];
    if (ix_hash_file(ctx, module, mh) || ix_hash_file(ctx, weights, wh)) return VIT_ERR_IO;
    ix_opts_key(&ix->opts, key, sizeof key);
    ix_combine_id(mh, wh, key, id);
    if (!strcmp(id, ix->module_id)) return VIT_OK;
    const char *imh = jstr(ix->man, "module_hash"), *iwh = jstr(ix->man, "weights_hash");
    const char *what = imh && strcmp(imh, mh) && iwh && strcmp(iwh, wh) ? "module and weights"
                       : imh && strcmp(imh, mh)                          ? "module"
                       : iwh && strcmp(iwh, wh)                          ? "weights"
                                                                         : "module, weights or options";
    return vit_ctx_fail(ctx, VIT_ERR_ARG,
                        "the index %s was built from another %s (it was built from %s with %s; its module id is %s, "
                        "%s with %s gives %s): rebuild the index or use the module it was built with",
                        ix->dir, what, ix->module, ix->weights, ix->module_id, module, weights, id);
}

/* ---- reading ---- */

/* Rows [row, row + n) of one shard file into contrib / output, after checking the file. */
static int read_rows(vit_ctx *ctx, const vit_index *ix, int s, int64_t row, int64_t n, const int64_t *ids, float *contrib,
                     float *output) {
    char *path = ix_join(ix->dir, ix->files[s]), err[1024];
    StFile *f = NULL;
    int rc = VIT_OK;
    if (!path) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    if (st_open(path, &f, err, sizeof err)) { rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err); goto done; }
    int64_t kc = st_find(f, "contrib"), ko = st_find(f, "output"), ki = st_find(f, "images");
    const StTensor *tc = kc >= 0 ? &f->t[kc] : NULL, *to = ko >= 0 ? &f->t[ko] : NULL, *ti = ki >= 0 ? &f->t[ki] : NULL;
    int64_t rows = ti ? ti->shape[0] : -1;
    if (!tc || !to || !ti || ti->dtype != ST_DTYPE_I64 || ti->rank != 1 || tc->dtype != ST_DTYPE_F32 || tc->rank != 3 ||
        tc->shape[0] != rows || tc->shape[1] != ix->ncomp || tc->shape[2] != ix->dim || to->dtype != ST_DTYPE_F32 ||
        to->rank != 2 || to->shape[0] != rows || to->shape[1] != ix->dim || row + n > rows) {
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT,
                          "%s: expected contrib [rows, %d, %d] F32, output [rows, %d] F32 and images [rows] I64 with at "
                          "least %lld rows",
                          path, ix->ncomp, ix->dim, ix->dim, (long long)(row + n));
        goto done;
    }
    for (int64_t r = 0; r < n; r++) {
        int64_t id;
        memcpy(&id, f->data + ti->begin + (uint64_t)(row + r) * 8, 8);
        if (id != ids[r]) {
            rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: row %lld holds image %lld, the manifest says %lld", path,
                              (long long)(row + r), (long long)id, (long long)ids[r]);
            goto done;
        }
    }
    size_t cz = (size_t)ix->ncomp * (size_t)ix->dim * sizeof(float), oz = (size_t)ix->dim * sizeof(float);
    if (contrib) memcpy(contrib, f->data + tc->begin + (size_t)row * cz, (size_t)n * cz);
    if (output) memcpy(output, f->data + to->begin + (size_t)row * oz, (size_t)n * oz);
done:
    st_close(f);
    free(path);
    return rc;
}

int vit_index_read(vit_ctx *ctx, const vit_index *ix, int64_t first, int64_t count, float *contrib, float *output) {
    if (first < 0 || count < 0 || first + count > ix->count)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "images %lld .. %lld are outside the index (%lld images)", (long long)first,
                            (long long)(first + count - 1), (long long)ix->count);
    int64_t i = first, end = first + count;
    while (i < end) {
        int64_t j = i;
        while (j < end && ix->shard_of[j] == ix->shard_of[i]) j++;
        int rc = read_rows(ctx, ix, ix->shard_of[i], ix->row_of[i], j - i, ix->ids + i,
                           contrib ? contrib + (size_t)(i - first) * (size_t)ix->ncomp * (size_t)ix->dim : NULL,
                           output ? output + (size_t)(i - first) * (size_t)ix->dim : NULL);
        if (rc) return rc;
        i = j;
    }
    return VIT_OK;
}
