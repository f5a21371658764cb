/* tests/test_pool.c — one image's products split between threads
 * (runtime/pool.c, runtime/kernels.c): every part of a job runs exactly once,
 * a second caller while a job is out runs its job itself, and vitrt_gemm
 * split 2 or 3 ways (every product split: VITRUN_SPLIT_MIN=0) equals a
 * double-precision reference for each layout it is called with. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "kernels.h"
#include "pool.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct {
    int hits[64];
    int nparts;
    pthread_mutex_t m;
} Count;

static void count_part(void *ctx, int p, int np) {
    Count *c = ctx;
    pthread_mutex_lock(&c->m);
    c->hits[p]++;
    c->nparts = np;
    pthread_mutex_unlock(&c->m);
}

TEST(every_part_runs_once) {
    for (int n = 1; n <= 4; n++) {
        pool_set_threads(n);
        ASSERT_EQ(pool_threads(), n);
        for (int rep = 0; rep < 200; rep++) {
            Count c = {.m = PTHREAD_MUTEX_INITIALIZER};
            pool_run(count_part, &c);
            ASSERT_EQ(c.nparts, n);
            for (int p = 0; p < n; p++) ASSERT_EQ(c.hits[p], 1);
            for (int p = n; p < 64; p++) ASSERT_EQ(c.hits[p], 0);
        }
    }
    pool_set_threads(1);
    return 0;
}

static void *run_many(void *arg) {
    int *bad = arg;
    for (int rep = 0; rep < 300; rep++) {
        Count c = {.m = PTHREAD_MUTEX_INITIALIZER};
        pool_run(count_part, &c);
        for (int p = 0; p < c.nparts; p++) *bad += c.hits[p] != 1;
    }
    return NULL;
}

TEST(two_callers_at_once) {
    pool_set_threads(3);
    int bad[2] = {0, 0};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, run_many, &bad[0]), 0);
    run_many(&bad[1]);
    pthread_join(t, NULL);
    pool_set_threads(1);
    ASSERT_EQ(bad[0], 0);
    ASSERT_EQ(bad[1], 0);
    return 0;
}

/* C_i = op(A_i) op(B_i) against a double reference, pool of `threads` */
static int gemm_case(int threads, int64_t batch, int64_t m, int64_t n, int64_t k, int ta, int tb) {
    int64_t sa = m * k + 3, sb = k * n + 5, sc = m * n + 7; /* strides with gaps */
    float *a = malloc(sizeof(float) * (size_t)(batch * sa)), *b = malloc(sizeof(float) * (size_t)(batch * sb));
    float *c = malloc(sizeof(float) * (size_t)(batch * sc));
    double *ref = malloc(sizeof(double) * (size_t)(batch * m * n));
    for (int64_t i = 0; i < batch * sa; i++) a[i] = frand();
    for (int64_t i = 0; i < batch * sb; i++) b[i] = frand();
    for (int64_t i = 0; i < batch * sc; i++) c[i] = 1e30f;
    int64_t lda = ta ? m : k, ldb = tb ? k : n;
    for (int64_t q = 0; q < batch; q++)
        for (int64_t r = 0; r < m; r++)
            for (int64_t s = 0; s < n; s++) {
                double acc = 0;
                for (int64_t t = 0; t < k; t++)
                    acc += (double)a[q * sa + (ta ? t * lda + r : r * lda + t)] * b[q * sb + (tb ? s * ldb + t : t * ldb + s)];
                ref[(q * m + r) * n + s] = acc;
            }
    pool_set_threads(threads);
    vitrt_gemm(batch, m, n, k, a, lda, sa, ta, b, ldb, sb, tb, c, n, sc);
    pool_set_threads(1);
    double worst = 0;
    int bad_gap = 0;
    for (int64_t q = 0; q < batch; q++) {
        for (int64_t r = 0; r < m * n; r++) {
            double d = fabs(c[q * sc + r] - ref[q * m * n + r]) / (1 + fabs(ref[q * m * n + r]));
            if (d > worst) worst = d;
        }
        for (int64_t r = m * n; r < sc && q + 1 < batch; r++) bad_gap += c[q * sc + r] != 1e30f;
    }
    free(a), free(b), free(c), free(ref);
    if (worst > 1e-5 || bad_gap) {
        fprintf(stderr, "  threads %d batch %lld m %lld n %lld k %lld ta %d tb %d: error %.3g, %d writes between products\n",
                threads, (long long)batch, (long long)m, (long long)n, (long long)k, ta, tb, worst, bad_gap);
        return 1;
    }
    return 0;
}

TEST(split_products_equal_the_reference) {
    setenv("VITRUN_SPLIT_MIN", "0", 1);
    int bad = 0;
    for (int threads = 1; threads <= 3; threads++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                bad += gemm_case(threads, 1, 37, 197, 29, ta, tb);  /* columns split, n not a multiple of 16 */
                bad += gemm_case(threads, 1, 5, 96, 64, ta, tb);    /* 6 blocks of 16 */
                bad += gemm_case(threads, 12, 17, 23, 16, ta, tb);  /* a batch of products split */
                bad += gemm_case(threads, 3, 9, 130, 7, ta, tb);    /* a short batch: columns split */
                bad += gemm_case(threads, 2, 4, 8, 0, ta, tb);      /* an empty sum: zeros */
            }
    ASSERT_EQ(bad, 0);
    return 0;
}

TESTS {
    T(every_part_runs_once),
    T(two_callers_at_once),
    T(split_products_equal_the_reference),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
