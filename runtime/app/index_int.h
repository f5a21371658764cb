/* runtime/app/index_int.h — what index.c (reading, ids, merge) and
 * index_build.c (building) share: the manifest as a cJSON tree, its atomic
 * write, shard file names and the content hash behind module ids. */
#ifndef VIT_INDEX_INT_H
#define VIT_INDEX_INT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "vit.h"

#define IX_FORMAT "vit-index"
#define IX_VERSION 1
#define IX_MANIFEST "index.json"

/* "dir/name" (malloc'd; NULL when out of memory). */
char *ix_join(const char *dir, const char *name);
/* "shard-NNNNN.safetensors" for chunk k into buf. */
void ix_shard_name(int k, char *buf, size_t len);
/* DIR/index.json parsed; VIT_ERR_IO when absent or unreadable, VIT_ERR_FORMAT when
 * not an index manifest of this version (message in ctx). */
int ix_manifest_load(vit_ctx *ctx, const char *dir, cJSON **out);
/* Write DIR/index.json atomically (temporary file beside it, fsync, rename). */
int ix_manifest_save(vit_ctx *ctx, const char *dir, const cJSON *man);
/* Order the "shards" entries by chunk. */
void ix_manifest_sort(cJSON *man);
/* Make ready an output directory and lock it (*lockfd, to close when done;
 * another process holding the lock is refused): 1 when it holds a manifest,
 * 0 when absent (then made, *created = 1) or empty, -1 with a message otherwise. */
int ix_prepare_out(vit_ctx *ctx, const char *dir, int *created, int *lockfd);
/* 1 for the name of a temporary file of ours (a manifest or shard being written). */
int ix_is_temp(const char *name);
/* Remove temporary files an interrupted writer left in dir. */
void ix_clean_temps(const char *dir);

/* The canonical option string of a decomposition (defaults filled in). */
void ix_opts_key(const vit_decomp_opts *o, char *buf, size_t len);
/* 32 hex digits of the content hash of len bytes at p (p may be NULL when len is 0). */
void ix_hash_mem(const void *p, size_t len, char hex[VIT_MODULE_ID_LEN]);
/* The same hash of a file's content; VIT_ERR_IO with a message when unreadable. */
int ix_hash_file(vit_ctx *ctx, const char *path, char hex[VIT_MODULE_ID_LEN]);
/* The module id from the two file hashes and the options key. */
void ix_combine_id(const char *module_hash, const char *weights_hash, const char *opts_key,
                   char id[VIT_MODULE_ID_LEN]);

/* Image count of chunk k of `chunk` images in a folder of `total`. */
static inline int64_t ix_chunk_len(int64_t total, int chunk, int k) {
    int64_t first = (int64_t)k * chunk, end = first + chunk < total ? first + chunk : total;
    return end > first ? end - first : 0;
}

#endif
