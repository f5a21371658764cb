/* runtime/app/index_merge.c — joining shard indexes (built with --shard i/n,
 * possibly on other machines) into one: the inputs must be of the same
 * module, folder and chunk size, and together hold every chunk exactly once.
 * Shard files are hard-linked when possible, else copied (atomically); the
 * manifest is written last, so a failed merge leaves no index behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index_int.h"
#include "st.h"
#include "vitint.h"

static int copy_file(vit_ctx *ctx, const char *from, const char *to) {
    if (link(from, to) == 0) return VIT_OK;
    size_t n = strlen(to) + 32;
    char *tmp = malloc(n);
    if (!tmp) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    snprintf(tmp, n, "%s.tmp.%ld", to, (long)getpid());
    int in = open(from, O_RDONLY | O_CLOEXEC), out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int ok = in >= 0 && out >= 0;
    char buf[1 << 16];
    ssize_t r = 0;
    while (ok && (r = read(in, buf, sizeof buf)) > 0) ok = write(out, buf, (size_t)r) == r;
    ok = ok && r == 0 && fsync(out) == 0;
    int e = errno;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    int rc = VIT_OK;
    if (!ok || rename(tmp, to)) {
        rc = vit_ctx_fail(ctx, VIT_ERR_IO, "copying %s to %s: %s", from, to, strerror(ok ? errno : e));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

int vit_index_merge(vit_ctx *ctx, const char *out, const char *const *inputs, int n) {
    if (n < 1) return vit_ctx_fail(ctx, VIT_ERR_ARG, "no indexes to merge");
    cJSON **man = calloc((size_t)n, sizeof *man);
    int *owner = NULL;
    char **made = NULL; /* files created in out, removed on failure */
    int nmade = 0, created = 0, rc = VIT_OK, nchunks = 0, lockfd = -1;
    cJSON *res = NULL;
    if (!man) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        rc = ix_manifest_load(ctx, inputs[i], &man[i]);
        if (rc || !i) continue;
        static const char *const keys[] = {"module_id", "chunk", "total", "images"};
        static const char *const what[] = {"another module, weights or decomposition options", "another --chunk",
                                           "another folder", "another folder (other image files)"};
        for (int q = 0; q < 4 && !rc; q++)
            if (!cJSON_Compare(item(man[0], keys[q]), item(man[i], keys[q]), 1))
                rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "%s and %s are indexes of %s (their %s differ): they cannot be merged",
                                  inputs[0], inputs[i], what[q], keys[q]);
    }
    if (rc) goto done;
    const cJSON *tot = item(man[0], "total"), *chk = item(man[0], "chunk");
    if (!cJSON_IsNumber(tot) || !cJSON_IsNumber(chk) || chk->valueint < 1) {
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s/" IX_MANIFEST ": missing total or chunk", inputs[0]);
        goto done;
    }
    int64_t total = (int64_t)tot->valuedouble;
    int chunk = chk->valueint;
    nchunks = (int)((total + chunk - 1) / chunk);
    owner = malloc(sizeof(int) * (size_t)(nchunks + 1));
    made = calloc((size_t)nchunks + 1, sizeof(char *));
    if (!owner || !made) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    for (int k = 0; k < nchunks; k++) owner[k] = -1;
    for (int i = 0; i < n && !rc; i++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, item(man[i], "shards")) {
            const cJSON *k = item(e, "chunk");
            if (!cJSON_IsNumber(k) || k->valueint < 0 || k->valueint >= nchunks || !cJSON_IsString(item(e, "file"))) {
                rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s/" IX_MANIFEST ": a shard entry has no valid chunk or file", inputs[i]);
                break;
            }
            int c = k->valueint;
            if (owner[c] >= 0) {
                rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "images %lld .. %lld (chunk %d) are in both %s and %s: merge disjoint shards",
                                  (long long)c * chunk, (long long)c * chunk + ix_chunk_len(total, chunk, c) - 1, c,
                                  inputs[owner[c]], inputs[i]);
                break;
            }
            owner[c] = i;
        }
    }
    if (rc) goto done;
    int nmissing = 0, first_missing = -1;
    for (int k = 0; k < nchunks; k++)
        if (owner[k] < 0 && nmissing++ == 0) first_missing = k;
    if (nmissing) {
        const cJSON *img = cJSON_GetArrayItem(item(man[0], "images"), (int)((int64_t)first_missing * chunk));
        rc = vit_ctx_fail(ctx, VIT_ERR_ARG,
                          "%d of %d chunks are in none of the inputs, the first chunk %d (images %lld .. %lld, from %s): "
                          "index them (or finish the interrupted shard) before merging",
                          nmissing, nchunks, first_missing, (long long)first_missing * chunk,
                          (long long)first_missing * chunk + ix_chunk_len(total, chunk, first_missing) - 1,
                          cJSON_IsString(img) ? img->valuestring : "?");
        goto done;
    }
    int has = ix_prepare_out(ctx, out, &created, &lockfd);
    if (has) {
        if (has > 0) rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "%s already holds an index: merge into a new directory", out);
        else rc = VIT_ERR_IO;
        goto done;
    }
    res = cJSON_Duplicate(man[0], 1);
    cJSON *shards = cJSON_CreateArray();
    cJSON_ReplaceItemInObjectCaseSensitive(res, "shard", cJSON_CreateString("0/1"));
    cJSON_ReplaceItemInObjectCaseSensitive(res, "shards", shards);
    for (int i = 0; i < n && !rc; i++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, item(man[i], "shards")) {
            const char *file = item(e, "file")->valuestring;
            char *from = ix_join(inputs[i], file), *to = ix_join(out, file), err[1024];
            StFile *f = NULL;
            const char *id = NULL;
            if (!from || !to) rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
            else if (st_open(from, &f, err, sizeof err)) rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err);
            else if (!(id = st_meta(f, "module_id")) || strcmp(id, item(man[0], "module_id")->valuestring))
                rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: not a shard of this index (module id %s)", from, id ? id : "absent");
            else if (!(rc = copy_file(ctx, from, to))) {
                made[nmade++] = to;
                to = NULL;
            }
            st_close(f);
            free(from);
            free(to);
            if (rc) break;
            cJSON_AddItemToArray(shards, cJSON_Duplicate(e, 1));
        }
    }
    if (rc) goto done;
    ix_manifest_sort(res);
    rc = ix_manifest_save(ctx, out, res);
done:
    if (rc) {
        for (int i = 0; i < nmade; i++) unlink(made[i]);
        if (created) rmdir(out);
    }
    if (lockfd >= 0) close(lockfd);
    for (int i = 0; i < nmade; i++) free(made[i]);
    free(made);
    free(owner);
    for (int i = 0; i < n; i++) cJSON_Delete(man[i]);
    free(man);
    cJSON_Delete(res);
    return rc;
}
