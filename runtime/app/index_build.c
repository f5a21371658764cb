/* runtime/app/index_build.c — building a component index: list the folder
 * (recursive, sorted), derive the decomposition, and decompose chunk after
 * chunk while a reader thread decodes the next batch.  Each chunk becomes one
 * shard file written atomically, then the manifest is rewritten atomically:
 * after a crash at any point the directory holds whole shards and a manifest
 * listing a subset of them, and a rerun continues from there (a shard written
 * but not yet listed is adopted after checking it). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index_int.h"
#include "st.h"
#include "vitint.h"

#define IX_DEFAULT_BATCH 16
#define IX_DEFAULT_CHUNK 256
#define IX_MAX_DEPTH 64

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- the folder's images ---- */

typedef struct {
    char **v;     /* paths relative to the folder */
    int64_t n, cap;
} PathList;

static void paths_free(PathList *l) {
    for (int64_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static int is_image(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    char ext[8] = "";
    for (int i = 0; i < 6 && dot[i + 1]; i++) ext[i] = (char)tolower((unsigned char)dot[i + 1]);
    return !strcmp(ext, "jpg") || !strcmp(ext, "jpeg") || !strcmp(ext, "png");
}

static int walk(vit_ctx *ctx, const char *root, const char *rel, int depth, PathList *l) {
    char *dir = *rel ? ix_join(root, rel) : strdup(root);
    if (!dir) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    DIR *d = opendir(dir);
    if (!d) {
        int rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    int rc = VIT_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* ., .., hidden files and folders */
        char *r = *rel ? ix_join(rel, de->d_name) : strdup(de->d_name), *full = ix_join(root, r ? r : "");
        struct stat sb;
        if (!r || !full) rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
        else if (stat(full, &sb)) { /* a dangling link: not an image we can read, skipped */ }
        else if (S_ISDIR(sb.st_mode)) {
            if (depth >= IX_MAX_DEPTH) rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: folders nested deeper than %d (a link loop?)", full, IX_MAX_DEPTH);
            else rc = walk(ctx, root, r, depth + 1, l);
        } else if (S_ISREG(sb.st_mode) && is_image(de->d_name)) {
            if (l->n == l->cap) {
                int64_t cap = l->cap ? 2 * l->cap : 1024;
                char **v = realloc(l->v, sizeof(char *) * (size_t)cap);
                if (!v) rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
                else { l->v = v; l->cap = cap; }
            }
            if (!rc) { l->v[l->n++] = r; r = NULL; }
        }
        free(r);
        free(full);
    }
    closedir(d);
    free(dir);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ImageFolder classes: the first path component, when every image has one. */
static cJSON *folder_classes(const PathList *l, cJSON **labels) {
    cJSON *classes = cJSON_CreateArray();
    *labels = cJSON_CreateArray();
    int all = l->n > 0;
    for (int64_t i = 0; i < l->n; i++) all &= strchr(l->v[i], '/') != NULL;
    int nc = -1;
    const char *prev = NULL;
    size_t plen = 0;
    for (int64_t i = 0; i < l->n; i++) {
        if (!all) { cJSON_AddItemToArray(*labels, cJSON_CreateNumber(-1)); continue; }
        size_t len = (size_t)(strchr(l->v[i], '/') - l->v[i]);
        if (!prev || len != plen || strncmp(prev, l->v[i], len)) { /* sorted paths: classes come in order */
            char *name = strndup(l->v[i], len);
            cJSON_AddItemToArray(classes, cJSON_CreateString(name ? name : ""));
            free(name);
            nc++;
            prev = l->v[i];
            plen = len;
        }
        cJSON_AddItemToArray(*labels, cJSON_CreateNumber(nc));
    }
    return classes;
}

/* ---- the output directory ---- */

/* 1 when dir holds an index manifest, 0 when it is absent (*created = 1 after making it) or empty;
 * else an error (status < 0 after the message). */
/* Lock dir (flock on the directory itself, released when *lockfd is closed
 * or the process ends): 0 (*lockfd stays -1 where the file system has no
 * locks), or -1 with a message when another process holds it. */
static int lock_dir(vit_ctx *ctx, const char *dir, int *lockfd) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", dir, strerror(errno)), -1;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int busy = errno == EWOULDBLOCK;
        close(fd);
        if (!busy) return 0; /* a file system without locks: go on unlocked */
        return vit_ctx_fail(ctx, VIT_ERR_IO, "%s: another vitrun is writing this index now; wait for it to end, or choose another -o", dir), -1;
    }
    *lockfd = fd;
    return 0;
}

int ix_prepare_out(vit_ctx *ctx, const char *dir, int *created, int *lockfd) {
    struct stat sb;
    *created = 0;
    *lockfd = -1;
    if (stat(dir, &sb)) {
        if (errno != ENOENT || mkdir(dir, 0777)) {
            vit_ctx_fail(ctx, VIT_ERR_IO, "%s: cannot create the index directory: %s", dir, strerror(errno));
            return -1;
        }
        *created = 1;
        if (lock_dir(ctx, dir, lockfd)) { rmdir(dir); *created = 0; return -1; }
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) { vit_ctx_fail(ctx, VIT_ERR_IO, "%s: exists and is not a directory", dir); return -1; }
    /* before anything is read or cleaned: another process may be writing here */
    if (lock_dir(ctx, dir, lockfd)) return -1;
    char *man = ix_join(dir, IX_MANIFEST);
    int has = man && access(man, F_OK) == 0;
    free(man);
    if (has) return 1;
    DIR *d = opendir(dir);
    if (!d) {
        vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", dir, strerror(errno));
        if (*lockfd >= 0) close(*lockfd);
        *lockfd = -1;
        return -1;
    }
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d))) empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || ix_is_temp(de->d_name);
    closedir(d);
    if (empty) ix_clean_temps(dir); /* a run killed before its first manifest */
    if (!empty || access(dir, W_OK)) {
        if (!empty) vit_ctx_fail(ctx, VIT_ERR_IO, "%s: not empty and not an index (no " IX_MANIFEST "): choose a new directory", dir);
        else vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", dir, strerror(errno));
        if (*lockfd >= 0) close(*lockfd);
        *lockfd = -1;
        return -1;
    }
    return 0;
}

/* ---- the build ---- */

typedef struct {
    float *input;    /* batch images, preprocessed */
    char **err;      /* per image: NULL or why it could not be read */
    int64_t first;   /* image id of the first */
    int n;           /* images in the batch */
    int full;        /* 1: filled, waiting for the forward pass */
} Slot;

typedef struct {
    const vit_model *m;
    const char *root;
    const PathList *paths;
    int64_t in;        /* floats per image */
    const int64_t *bfirst; /* batches: first image and count */
    const int *bn;
    int nb;
    Slot slot[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    double t_decode;
} Reader;

static void *reader_main(void *arg) {
    Reader *r = arg;
    vit_ctx *ctx = vit_ctx_new();
    for (int b = 0; b < r->nb; b++) {
        Slot *s = &r->slot[b % 2];
        pthread_mutex_lock(&r->mu);
        while (s->full && !r->stop) pthread_cond_wait(&r->cv, &r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
        double t = now_s();
        s->first = r->bfirst[b];
        s->n = r->bn[b];
        for (int j = 0; j < s->n; j++) {
            const char *rel = r->paths->v[s->first + j];
            char *full = ix_join(r->root, rel);
            s->err[j] = NULL;
            if (!ctx || !full) s->err[j] = strdup("out of memory");
            else if (vit_model_read_image(ctx, r->m, full, s->input + r->in * j)) s->err[j] = strdup(vit_last_error(ctx));
            free(full);
        }
        r->t_decode += now_s() - t;
        pthread_mutex_lock(&r->mu);
        s->full = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    vit_ctx_free(ctx);
    return NULL;
}

typedef struct {
    vit_ctx *ctx;
    const vit_index_opts *o;
    vit_model *m;
    const char *out, *id;
    int kc, ko, ncomp, dim, chunk;
    int64_t total;
    float **outs;        /* per model output: batch rows */
    float *acc_c, *acc_o; /* the chunk being built: contributions and outputs */
    int64_t *acc_id;
    int rows;            /* rows in the chunk so far */
    int flushed;         /* shards written by this run */
    int unsaved;         /* shards written since the manifest was last saved */
    double save_end, save_cost; /* when the manifest was last saved, and how long that took */
    cJSON *skipped;      /* the chunk's skipped images */
    cJSON *man;
    vit_index_stats *st;
} Build;

static int manifest_flush(Build *b) {
    if (!b->unsaved) return VIT_OK;
    double t = now_s();
    ix_manifest_sort(b->man);
    int rc = ix_manifest_save(b->ctx, b->out, b->man);
    b->save_end = now_s();
    b->save_cost = b->save_end - t;
    if (!rc) b->unsaved = 0;
    return rc;
}

/* Write the finished chunk k as a shard, then list it in the manifest. */
static int flush_chunk(Build *b, int k) {
    double t = now_s();
    char name[64], err[1024];
    ix_shard_name(k, name, sizeof name);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "chunk", k);
    cJSON_AddStringToObject(e, "file", name);
    cJSON_AddNumberToObject(e, "count", b->rows);
    b->st->skipped += cJSON_GetArraySize(b->skipped);
    b->st->done += ix_chunk_len(b->total, b->chunk, k);
    b->flushed++;
    if (cJSON_GetArraySize(b->skipped)) cJSON_AddItemToObject(e, "skipped", b->skipped);
    else cJSON_Delete(b->skipped);
    b->skipped = cJSON_CreateArray();
    char *ejson = cJSON_PrintUnformatted(e);
    char *path = ix_join(b->out, name);
    int64_t sc[3] = {b->rows, b->ncomp, b->dim}, so[2] = {b->rows, b->dim}, si[1] = {b->rows};
    StWriter *w = st_writer_new();
    int rc = VIT_OK;
    if (!ejson || !path || !w) { st_writer_free(w); rc = vit_ctx_fail(b->ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    st_writer_meta(w, "format", IX_FORMAT " shard");
    st_writer_meta(w, "module_id", b->id);
    st_writer_meta(w, "entry", ejson);
    st_writer_add_f32(w, "contrib", 3, sc, b->rows ? b->acc_c : NULL);
    st_writer_add_f32(w, "output", 2, so, b->rows ? b->acc_o : NULL);
    st_writer_add_raw(w, "images", ST_DTYPE_I64, 1, si, b->rows ? b->acc_id : NULL);
    if (st_writer_finish(w, path, err, sizeof err)) { rc = vit_ctx_fail(b->ctx, VIT_ERR_IO, "%s", err); goto done; }
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(b->man, "shards"), e);
    e = NULL;
    b->unsaved++;
    /* the manifest holds the whole image list: rewriting it after every shard of a large folder
     * would cost more than the shards, so it waits until 10x its last cost has passed (shards
     * written meanwhile are adopted by a rerun after a crash); manifest_flush saves at the end */
    if (now_s() - b->save_end >= 10 * b->save_cost) rc = manifest_flush(b);
done:
    cJSON_Delete(e);
    free(ejson);
    free(path);
    b->rows = 0;
    b->st->t_write += now_s() - t;
    return rc;
}

/* One decoded batch: skip the unreadable images, run the rest, append to the chunk. */
static int run_batch(Build *b, Slot *s, int64_t in) {
    int good = 0;
    for (int j = 0; j < s->n; j++) {
        int64_t id = s->first + j;
        if (s->err[j]) {
            cJSON *q = cJSON_CreateObject();
            cJSON_AddNumberToObject(q, "image", (double)id);
            cJSON_AddStringToObject(q, "error", s->err[j]);
            cJSON_AddItemToArray(b->skipped, q);
            if (b->o->warn) b->o->warn(b->o->ud, s->err[j]);
            continue;
        }
        if (good != j) memmove(s->input + in * good, s->input + in * j, sizeof(float) * (size_t)in);
        b->acc_id[b->rows + good] = id;
        good++;
    }
    if (!good) return VIT_OK;
    double t = now_s();
    int rc = vit_model_run(b->ctx, b->m, b->o->engine, s->input, good, b->o->threads, b->outs);
    b->st->t_forward += now_s() - t;
    if (rc) return rc;
    size_t cz = (size_t)b->ncomp * (size_t)b->dim;
    memcpy(b->acc_c + cz * (size_t)b->rows, b->outs[b->kc], sizeof(float) * cz * (size_t)good);
    memcpy(b->acc_o + (size_t)b->dim * (size_t)b->rows, b->outs[b->ko], sizeof(float) * (size_t)b->dim * (size_t)good);
    b->rows += good;
    return VIT_OK;
}

/* A shard file present but not listed (written just before a crash): listed when it checks out. */
static int adopt(Build *b, int k, char *done) {
    char name[64], err[1024];
    ix_shard_name(k, name, sizeof name);
    char *path = ix_join(b->out, name);
    StFile *f = NULL;
    int ok = path && access(path, F_OK) == 0 && st_open(path, &f, err, sizeof err) == 0;
    const char *id = ok ? st_meta(f, "module_id") : NULL, *ej = ok ? st_meta(f, "entry") : NULL;
    cJSON *e = ej ? cJSON_Parse(ej) : NULL;
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(e, "count"), *ch = cJSON_GetObjectItemCaseSensitive(e, "chunk");
    int64_t kc = ok ? st_find(f, "contrib") : -1;
    ok = ok && id && !strcmp(id, b->id) && cJSON_IsNumber(cnt) && cJSON_IsNumber(ch) && ch->valueint == k && kc >= 0 &&
         f->t[kc].shape[0] == cnt->valueint &&
         cnt->valueint + cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "skipped")) == ix_chunk_len(b->total, b->chunk, k);
    st_close(f);
    free(path);
    if (!ok) { cJSON_Delete(e); return 0; }
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(b->man, "shards"), e);
    done[k] = 1;
    return 1;
}

static cJSON *new_manifest(const char *id, const char *mh, const char *wh, const char *module, const char *weights,
                           const char *images, const vit_index_opts *o, const char *oname, int ncomp, int dim,
                           const char *comps, int chunk, const PathList *l) {
    cJSON *m = cJSON_CreateObject(), *opts = cJSON_CreateObject(), *labels = NULL;
    const vit_decomp_opts *d = &o->decomp;
    char shard[64];
    snprintf(shard, sizeof shard, "%d/%d", o->shard_i, o->shard_n);
    cJSON_AddStringToObject(m, "format", IX_FORMAT);
    cJSON_AddNumberToObject(m, "version", IX_VERSION);
    cJSON_AddStringToObject(m, "module_id", id);
    cJSON_AddStringToObject(m, "module_hash", mh);
    cJSON_AddStringToObject(m, "weights_hash", wh);
    cJSON_AddStringToObject(m, "module", module);
    cJSON_AddStringToObject(m, "weights", weights);
    if (d->output) cJSON_AddStringToObject(opts, "output", d->output);
    if (d->split) cJSON_AddStringToObject(opts, "split", d->split);
    if (d->from) cJSON_AddStringToObject(opts, "from", d->from);
    if (d->bias) cJSON_AddStringToObject(opts, "bias", d->bias);
    if (d->ln) cJSON_AddStringToObject(opts, "ln", d->ln);
    cJSON_AddItemToObject(m, "options", opts);
    cJSON_AddStringToObject(m, "source", images);
    cJSON_AddStringToObject(m, "output", oname);
    cJSON_AddNumberToObject(m, "ncomp", ncomp);
    cJSON_AddNumberToObject(m, "dim", dim);
    cJSON *cj = comps ? cJSON_Parse(comps) : NULL;
    cJSON_AddItemToObject(m, "components", cj ? cj : cJSON_CreateObject());
    cJSON_AddNumberToObject(m, "chunk", chunk);
    cJSON_AddStringToObject(m, "shard", shard);
    cJSON_AddNumberToObject(m, "total", (double)l->n);
    cJSON_AddItemToObject(m, "images", cJSON_CreateStringArray((const char *const *)l->v, (int)l->n));
    cJSON_AddItemToObject(m, "classes", folder_classes(l, &labels));
    cJSON_AddItemToObject(m, "labels", labels);
    cJSON_AddItemToObject(m, "shards", cJSON_CreateArray());
    return m;
}

/* An existing manifest must describe this very build: same module id, images, chunk and shard. */
static int check_resume(vit_ctx *ctx, const char *out, const cJSON *old, const cJSON *fresh) {
    static const char *const keys[] = {"module_id", "chunk", "shard", "total", "images"};
    static const char *const what[] = {"another module, weights or decomposition options", "another --chunk",
                                       "another --shard", "another folder", "another folder (other image files)"};
    for (int i = 0; i < 5; i++) {
        if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, keys[i]), cJSON_GetObjectItemCaseSensitive(fresh, keys[i]), 1))
            return vit_ctx_fail(ctx, VIT_ERR_ARG,
                                "%s holds an index built with %s (its %s differs): rerun with the same arguments to "
                                "continue it, or choose another output directory",
                                out, what[i], keys[i]);
    }
    return VIT_OK;
}

int vit_index_build(vit_ctx *ctx, const char *module, const char *weights, const char *images, const char *out,
                    const vit_index_opts *opts, vit_index_stats *stats) {
    vit_index_opts o = opts ? *opts : (vit_index_opts){0};
    vit_index_stats stz = {0};
    vit_index_stats *st = stats ? stats : &stz;
    memset(st, 0, sizeof *st);
    if (!o.batch) o.batch = IX_DEFAULT_BATCH;
    if (!o.chunk) o.chunk = IX_DEFAULT_CHUNK;
    if (!o.shard_n) o.shard_n = 1;
    if (o.threads <= 0) { long c = sysconf(_SC_NPROCESSORS_ONLN); o.threads = c > 0 ? (int)c : 1; }
    if (o.batch < 1 || o.chunk < 1 || o.chunk > 1 << 24)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "batch and chunk must be positive (chunk at most %d)", 1 << 24);
    if (o.shard_n < 1 || o.shard_i < 0 || o.shard_i >= o.shard_n)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "shard %d/%d: needs 0 <= i < n", o.shard_i, o.shard_n);
    if (o.decomp.directions)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "an index stores the components themselves: directions are not supported");
    PathList l = {0};
    vit_model *m = NULL;
    cJSON *man = NULL, *old = NULL;
    Build b = {0};
    char *done = NULL;
    int64_t *bfirst = NULL;
    int *bn = NULL;
    int created = 0, wrote = 0, rc, lockfd = -1;
    Reader r = {0};
    struct stat sb;
    if (stat(images, &sb)) { rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", images, strerror(errno)); goto done; }
    if (!S_ISDIR(sb.st_mode)) { rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: not a directory", images); goto done; }
    if ((rc = walk(ctx, images, "", 0, &l))) goto done;
    if (!l.n) { rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "%s: no JPEG or PNG images in it (searched recursively)", images); goto done; }
    qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    const char *oname = o.decomp.output ? o.decomp.output : "repr";
    char cname[256], mh[VIT_MODULE_ID_LEN], wh[VIT_MODULE_ID_LEN], key[1024], id[VIT_MODULE_ID_LEN];
    snprintf(cname, sizeof cname, "contrib.%s", oname);
    if ((rc = vit_model_load_decomposed(ctx, module, &o.decomp, &m))) goto done;
    if ((rc = vit_model_bind(ctx, m, weights, NULL))) goto done;
    b.kc = vit_model_output_find(m, cname);
    b.ko = vit_model_output_find(m, oname);
    if (b.kc < 0 || b.ko < 0) { rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "the module has no decomposition of '%s'", oname); goto done; }
    b.dim = (int)vit_model_output_numel(m, b.ko);
    b.ncomp = (int)(vit_model_output_numel(m, b.kc) / b.dim);
    if ((rc = ix_hash_file(ctx, module, mh)) || (rc = ix_hash_file(ctx, weights, wh))) goto done;
    ix_opts_key(&o.decomp, key, sizeof key);
    ix_combine_id(mh, wh, key, id);
    man = new_manifest(id, mh, wh, module, weights, images, &o, oname, b.ncomp, b.dim, vit_model_components_json(m), o.chunk, &l);
    if (!man) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    int has = ix_prepare_out(ctx, out, &created, &lockfd);
    if (has < 0) { rc = VIT_ERR_IO; goto done; }
    int nchunks = (int)((l.n + o.chunk - 1) / o.chunk);
    done = calloc((size_t)nchunks + 1, 1);
    if (!done) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    if (has) {
        if ((rc = ix_manifest_load(ctx, out, &old)) || (rc = check_resume(ctx, out, old, man))) goto done;
        cJSON_ReplaceItemInObjectCaseSensitive(man, "shards", cJSON_DetachItemFromObjectCaseSensitive(old, "shards"));
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(man, "shards")) {
            int k = cJSON_GetObjectItemCaseSensitive(e, "chunk")->valueint;
            if (k >= 0 && k < nchunks) done[k] = 1;
        }
        ix_clean_temps(out);
    }
    b.ctx = ctx;
    b.o = &o;
    b.m = m;
    b.out = out;
    b.id = id;
    b.chunk = o.chunk;
    b.total = l.n;
    b.man = man;
    b.st = st;
    st->total = l.n;
    for (int k = o.shard_i; k < nchunks; k += o.shard_n) {
        st->mine += ix_chunk_len(l.n, o.chunk, k);
        if (!done[k] && has && adopt(&b, k, done)) st->adopted += ix_chunk_len(l.n, o.chunk, k);
        if (done[k]) st->before += ix_chunk_len(l.n, o.chunk, k);
    }
    ix_manifest_sort(man);
    /* the batches still to do, chunk by chunk */
    int64_t maxb = st->mine / o.batch + nchunks + 1;
    bfirst = calloc((size_t)maxb, sizeof *bfirst);
    bn = calloc((size_t)maxb, sizeof *bn);
    int nb = 0;
    if (!bfirst || !bn) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    for (int k = o.shard_i; k < nchunks; k += o.shard_n) {
        if (done[k]) continue;
        int64_t first = (int64_t)k * o.chunk, len = ix_chunk_len(l.n, o.chunk, k);
        for (int64_t j = 0; j < len; j += o.batch) {
            bfirst[nb] = first + j;
            bn[nb++] = (int)(len - j < o.batch ? len - j : o.batch);
        }
    }
    int64_t todo = st->mine - st->before, in = vit_model_input_numel(m);
    int no = vit_model_noutputs(m);
    size_t cz = (size_t)b.ncomp * (size_t)b.dim;
    b.outs = calloc((size_t)no, sizeof(float *));
    b.acc_c = malloc(sizeof(float) * cz * (size_t)o.chunk);
    b.acc_o = malloc(sizeof(float) * (size_t)b.dim * (size_t)o.chunk);
    b.acc_id = malloc(sizeof(int64_t) * (size_t)o.chunk);
    b.skipped = cJSON_CreateArray();
    int okmem = b.outs && b.acc_c && b.acc_o && b.acc_id && b.skipped;
    for (int k = 0; okmem && k < no; k++) okmem = (b.outs[k] = malloc(sizeof(float) * (size_t)(vit_model_output_numel(m, k) * o.batch))) != NULL;
    for (int s = 0; okmem && s < 2; s++) {
        r.slot[s].input = malloc(sizeof(float) * (size_t)(in * o.batch));
        r.slot[s].err = calloc((size_t)o.batch, sizeof(char *));
        okmem = r.slot[s].input && r.slot[s].err;
    }
    if (!okmem) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    if (nb && (rc = vit_model_prepare(ctx, m, o.engine))) goto done;
    if ((rc = ix_manifest_save(ctx, out, man))) goto done;
    wrote = 1;
    if (!nb) goto done;
    r.m = m;
    r.root = images;
    r.paths = &l;
    r.in = in;
    r.bfirst = bfirst;
    r.bn = bn;
    r.nb = nb;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t th;
    double t0 = now_s();
    if (pthread_create(&th, NULL, reader_main, &r)) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "cannot start the reader thread"); goto done; }
    int64_t progress = 0; /* images through the forward pass (the unfinished chunk's included) */
    if (o.progress && o.progress(o.ud, 0, todo)) st->stopped = 1;
    for (int i = 0; i < nb && !rc && !st->stopped; i++) {
        Slot *s = &r.slot[i % 2];
        double tw = now_s();
        pthread_mutex_lock(&r.mu);
        while (!s->full) pthread_cond_wait(&r.cv, &r.mu);
        pthread_mutex_unlock(&r.mu);
        st->t_wait += now_s() - tw;
        rc = run_batch(&b, s, in);
        int n = s->n;
        int64_t first = s->first;
        for (int j = 0; j < n; j++) { free(s->err[j]); s->err[j] = NULL; }
        pthread_mutex_lock(&r.mu);
        s->full = 0;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
        if (rc) break;
        progress += n;
        int k = (int)(first / o.chunk);
        if (first + n == (int64_t)k * o.chunk + ix_chunk_len(l.n, o.chunk, k)) rc = flush_chunk(&b, k);
        if (o.progress && o.progress(o.ud, progress, todo)) st->stopped = 1;
    }
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    pthread_join(th, NULL);
    double tf = now_s();
    int frc = manifest_flush(&b); /* the shards written since the last save, whatever stopped the loop */
    st->t_write += now_s() - tf;
    if (!rc) rc = frc;
    st->t_decode = r.t_decode;
    st->t_wall = now_s() - t0;
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
done:
    for (int s = 0; s < 2; s++) {
        if (r.slot[s].err) for (int j = 0; j < o.batch; j++) free(r.slot[s].err[j]);
        free(r.slot[s].err);
        free(r.slot[s].input);
    }
    if (b.outs) for (int k = 0; k < vit_model_noutputs(m); k++) free(b.outs[k]);
    free(b.outs);
    free(b.acc_c);
    free(b.acc_o);
    free(b.acc_id);
    cJSON_Delete(b.skipped);
    free(bfirst);
    free(bn);
    free(done);
    cJSON_Delete(man);
    cJSON_Delete(old);
    vit_model_free(m);
    paths_free(&l);
    if (rc && created && !b.flushed) { /* nothing of this run is worth keeping */
        char *mp = ix_join(out, IX_MANIFEST);
        if (wrote && mp) unlink(mp);
        free(mp);
        rmdir(out);
    }
    if (lockfd >= 0) close(lockfd);
    return rc;
}
