/* runtime/objcache.h — the JIT's object cache: one object file per module
 * and host, reused by later loads; kept under a size limit. */
#ifndef VIT_OBJCACHE_H
#define VIT_OBJCACHE_H

#include <stddef.h>

#include <llvm-c/Types.h>

/* DIR/KEY.o for this bitcode on this host into path; 0 when the cache is off
 * (VITRUN_CACHE=off) or has no directory. */
int objcache_path(const void *bc, size_t bclen, const char *triple, const char *cpu, const char *features, char *path,
                  size_t len);
/* The cached object (the caller's), or NULL; a hit marks the entry as used. */
LLVMMemoryBufferRef objcache_read(const char *path);
/* Best effort, atomic; then removes the least recently used other entries
 * while the directory holds more than the limit (VITRUN_CACHE_MAX). */
void objcache_write(const char *path, LLVMMemoryBufferRef obj);
/* VITRUN_CACHE_MAX: bytes with an optional K, M or G suffix (binary); the
 * default when unset; -1 when malformed (the default is then used). */
long long objcache_limit(const char *s);

#endif
