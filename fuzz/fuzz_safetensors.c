/* fuzz/fuzz_safetensors.c — the .safetensors reader (runtime/st.c): header
 * validation, lookups, and conversion of every tensor to float32. */
#include "fuzz.h"
#include "st.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fz_write("w.safetensors", data, size);
    StFile *f = NULL;
    char err[1024];
    if (st_open(p, &f, err, sizeof err)) return 0;
    for (int i = 0; i < f->n; i++) {
        const StTensor *t = &f->t[i];
        if (st_find(f, t->name) < 0) abort(); /* every tensor is found by its name */
        int64_t n = st_numel(t);
        if (n < 0 || (uint64_t)n * (uint64_t)st_dtype_size(t->dtype) != t->end - t->begin) abort();
        float *dst = malloc((size_t)(n ? n : 1) * sizeof *dst);
        if (!dst) continue;
        if (st_read_f32(f, i, dst, err, sizeof err) == 0) {
            const float *in_place = st_data_f32(f, i);
            if (in_place && n && memcmp(in_place, dst, (size_t)n * sizeof *dst)) abort();
        }
        free(dst);
    }
    for (int i = 0; i < f->nmeta; i++)
        if (!st_meta(f, f->meta[i].key)) abort();
    st_close(f);
    return 0;
}
