/* runtime/pool.h — helper threads for the products of one image (pool.c). */
#ifndef VIT_POOL_H
#define VIT_POOL_H

/* fn(ctx, part, nparts) for part = 0 .. nparts - 1, possibly at once. */
typedef void (*PoolFn)(void *ctx, int part, int nparts);

/* Jobs are split into n parts from now on (1: run in the caller only);
 * starts workers as needed, never stops them. */
void pool_set_threads(int n);
int pool_threads(void);
/* Runs every part of a job and returns when all are done. */
void pool_run(PoolFn fn, void *ctx);

#endif
