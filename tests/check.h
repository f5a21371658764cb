/* tests/check.h — a tiny test harness.  A test file defines TEST(name)
 * functions, lists them once in a TESTS table and calls check_main().  Each
 * assertion prints both sides on failure.  Output is TAP-like. */
#ifndef VIT_CHECK_H
#define VIT_CHECK_H
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#define TEST(name) static int name(void)
#define FAIL_AT(...) do { fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); return 1; } while (0)
#define ASSERT(x) do { if (!(x)) FAIL_AT("ASSERT(%s) failed", #x); } while (0)
#define ASSERT_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a != _b) FAIL_AT("%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_STR_EQ(a, b) do { const char *_a = (a), *_b = (b); \
    if (!_a || !_b || strcmp(_a, _b)) FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, \
        _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define ASSERT_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    if (!_h || !strstr(_h, _n)) FAIL_AT("\"%s\" does not contain \"%s\"", _h ? _h : "(null)", _n); } while (0)
#define ASSERT_NEAR(a, b, tol) do { double _a = (a), _b = (b); \
    if (!(fabs(_a - _b) <= (tol))) FAIL_AT("%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, _a, _b, (double)(tol)); } while (0)

/* max |a-b| / max(max|b|, tiny): relative error normalised by the reference's scale */
static inline double check_max_rel(const float *a, const float *b, long n) {
    double m = 0, s = 1e-30;
    for (long i = 0; i < n; i++) { double d = fabs((double)a[i] - b[i]); if (d > m) m = d;
                                   if (fabs(b[i]) > s) s = fabs(b[i]); }
    return m / s;
}

typedef struct { const char *name; int (*fn)(void); } CheckTest;
#define TESTS static const CheckTest check_tests[] =
#define T(fn) { #fn, fn }

static inline int check_run(const CheckTest *t, int n, int argc, char **argv) {
    int failed = 0, passed = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], t[i].name)) continue;
        int r = t[i].fn();
        if (r == 0) { passed++; printf("ok %d - %s\n", i + 1, t[i].name); }
        else if (r == 77) { skipped++; printf("ok %d - %s # SKIP\n", i + 1, t[i].name); }
        else { failed++; printf("not ok %d - %s\n", i + 1, t[i].name); }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
#define check_main(argc, argv) check_run(check_tests, (int)(sizeof check_tests / sizeof check_tests[0]), argc, argv)
#define SKIP(...) do { printf("# skip: "); printf(__VA_ARGS__); printf("\n"); return 77; } while (0)
#endif
