/* AVX-512 FMA peak: 16 independent zmm accumulators per thread.
 *
 *   gcc -O2 -mavx512f -pthread fma_peak.c -o fma_peak
 *   ./fma_peak [threads...]        (default: 1 2)
 *
 * Prints one JSON line per thread count:
 *   {"threads": T, "gflops": best, "samples": [...]}
 * Each sample runs every thread for about 0.3 s; the best of 5 is kept.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NACC 16
#define INNER 1000L

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    long iters;
    float sink;
    pthread_barrier_t *bar;
} job_t;

static void *worker(void *p) {
    job_t *j = p;
    __m512 acc[NACC];
    for (int k = 0; k < NACC; k++) acc[k] = _mm512_set1_ps(0.001f * (float)k);
    const __m512 a = _mm512_set1_ps(0.999999f);
    const __m512 b = _mm512_set1_ps(1e-7f);
    pthread_barrier_wait(j->bar);
    for (long i = 0; i < j->iters; i++) {
        for (long r = 0; r < INNER; r++) {
            /* 16 independent dependency chains: enough to cover FMA latency
               on two pipes. */
            acc[0] = _mm512_fmadd_ps(acc[0], a, b);
            acc[1] = _mm512_fmadd_ps(acc[1], a, b);
            acc[2] = _mm512_fmadd_ps(acc[2], a, b);
            acc[3] = _mm512_fmadd_ps(acc[3], a, b);
            acc[4] = _mm512_fmadd_ps(acc[4], a, b);
            acc[5] = _mm512_fmadd_ps(acc[5], a, b);
            acc[6] = _mm512_fmadd_ps(acc[6], a, b);
            acc[7] = _mm512_fmadd_ps(acc[7], a, b);
            acc[8] = _mm512_fmadd_ps(acc[8], a, b);
            acc[9] = _mm512_fmadd_ps(acc[9], a, b);
            acc[10] = _mm512_fmadd_ps(acc[10], a, b);
            acc[11] = _mm512_fmadd_ps(acc[11], a, b);
            acc[12] = _mm512_fmadd_ps(acc[12], a, b);
            acc[13] = _mm512_fmadd_ps(acc[13], a, b);
            acc[14] = _mm512_fmadd_ps(acc[14], a, b);
            acc[15] = _mm512_fmadd_ps(acc[15], a, b);
        }
        /* keep the compiler from collapsing the inner loop */
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]),
                              "+v"(acc[4]), "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7]));
        __asm__ volatile("" : "+v"(acc[8]), "+v"(acc[9]), "+v"(acc[10]), "+v"(acc[11]),
                              "+v"(acc[12]), "+v"(acc[13]), "+v"(acc[14]), "+v"(acc[15]));
    }
    __m512 s = acc[0];
    for (int k = 1; k < NACC; k++) s = _mm512_add_ps(s, acc[k]);
    j->sink = _mm512_reduce_add_ps(s);
    return NULL;
}

/* Run `threads` workers for `iters` outer iterations each; return GFLOP/s. */
static double run(int threads, long iters) {
    pthread_t tid[64];
    job_t jobs[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
        jobs[t].iters = iters;
        jobs[t].bar = &bar;
        pthread_create(&tid[t], NULL, worker, &jobs[t]);
    }
    pthread_barrier_wait(&bar);
    double t0 = now();
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double dt = now() - t0;
    pthread_barrier_destroy(&bar);
    volatile float sink = 0;
    for (int t = 0; t < threads; t++) sink += jobs[t].sink;
    (void)sink;
    double flop = (double)threads * iters * INNER * NACC * 16 /* lanes */ * 2 /* mul+add */;
    return flop / dt * 1e-9;
}

int main(int argc, char **argv) {
    int counts[16], n = 0;
    for (int i = 1; i < argc && n < 16; i++) counts[n++] = atoi(argv[i]);
    if (n == 0) { counts[0] = 1; counts[1] = 2; n = 2; }

    /* calibrate: outer iterations for ~0.3 s on one thread */
    long iters = 1000;
    run(1, iters);
    double g = run(1, iters);
    double per_iter = (double)INNER * NACC * 32 / (g * 1e9);
    iters = (long)(0.3 / per_iter);
    if (iters < 1000) iters = 1000;

    for (int c = 0; c < n; c++) {
        int t = counts[c];
        if (t < 1 || t > 64) continue;
        double best = 0, s[5];
        for (int r = 0; r < 5; r++) {
            s[r] = run(t, iters);
            if (s[r] > best) best = s[r];
        }
        printf("{\"threads\": %d, \"gflops\": %.1f, \"samples\": [%.1f, %.1f, %.1f, %.1f, %.1f]}\n",
               t, best, s[0], s[1], s[2], s[3], s[4]);
        fflush(stdout);
    }
    return 0;
}
