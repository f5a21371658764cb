/* runtime/pool.c — helper threads for the products of one image.
 * vitrt_gemm hands a large product's parts to pool_run: part 0 runs in the
 * calling thread, the others in workers parked on a condition variable.
 * Nothing spins: a worker sleeps until a job arrives and the caller sleeps
 * until the last part is done, so a busy neighbour on a core delays a run but
 * never has its time slices burnt by a waiting thread.  One job at a time: a
 * second thread calling pool_run while a job is out runs every part itself. */
#include "pool.h"

#include <pthread.h>

#define MAX_THREADS 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER; /* held by the thread whose job is out */
static int nthreads = 1;   /* parts per job (caller + nthreads - 1 workers) */
static int nstarted;       /* workers running */
static unsigned long gen;  /* job number */
static PoolFn job_fn;
static void *job_ctx;
static int job_parts, pending;

static void *worker_main(void *arg) {
    int part = (int)(long)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (gen == seen) pthread_cond_wait(&work, &lock);
        seen = gen;
        if (part >= job_parts) continue;
        PoolFn fn = job_fn;
        void *ctx = job_ctx;
        int np = job_parts;
        pthread_mutex_unlock(&lock);
        fn(ctx, part, np);
        pthread_mutex_lock(&lock);
        if (--pending == 0) pthread_cond_signal(&done);
    }
    return NULL;
}

void pool_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    pthread_mutex_lock(&busy);
    pthread_mutex_lock(&lock);
    while (nstarted < n - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int bad = pthread_create(&t, &at, worker_main, (void *)(long)(nstarted + 1));
        pthread_attr_destroy(&at);
        if (bad) break;
        nstarted++;
    }
    nthreads = n <= nstarted + 1 ? n : nstarted + 1;
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&busy);
}

int pool_threads(void) { return nthreads; }

void pool_run(PoolFn fn, void *ctx) {
    int np = nthreads;
    if (np <= 1 || pthread_mutex_trylock(&busy)) {
        for (int p = 0; p < (np > 1 ? np : 1); p++) fn(ctx, p, np > 1 ? np : 1);
        return;
    }
    pthread_mutex_lock(&lock);
    job_fn = fn, job_ctx = ctx, job_parts = np, pending = np - 1;
    gen++;
    pthread_cond_broadcast(&work);
    pthread_mutex_unlock(&lock);
    fn(ctx, 0, np);
    pthread_mutex_lock(&lock);
    while (pending > 0) pthread_cond_wait(&done, &lock);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&busy);
}
