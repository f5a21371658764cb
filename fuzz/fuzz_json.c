/* fuzz/fuzz_json.c — the JSON readers: a Hugging Face tokenizer's
 * vocab.json (runtime/bpe.c, beside a fixed merges.txt) and the JSON header
 * of a .safetensors file (runtime/st.c, framed by the harness with its
 * length), the two JSON documents the runtime reads from users' files. */
#include "bpe.h"
#include "fuzz.h"
#include "st.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    static const char merges[] = "#version: 0.2\na b\n";
    fz_write("merges.txt", (const uint8_t *)merges, sizeof merges - 1);
    BpeTok *t = NULL;
    if (bpe_load(fz_write("vocab.json", data, size), &t, err, sizeof err) == 0) {
        int32_t ids[16];
        bpe_encode(t, "ab ba", 16, ids, err, sizeof err);
        bpe_free(t);
    }
    /* the same bytes as a safetensors header, followed by 64 bytes of blob */
    uint8_t *buf = malloc(size + 8 + 64);
    if (!buf) return 0;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)size >> (8 * i));
    memcpy(buf + 8, data, size);
    memset(buf + 8 + size, 0x3f, 64);
    StFile *f = NULL;
    if (st_open(fz_write("h.safetensors", buf, size + 8 + 64), &f, err, sizeof err) == 0) {
        float tmp[16];
        for (int i = 0; i < f->n; i++)
            if (st_numel(&f->t[i]) <= 16) st_read_f32(f, i, tmp, err, sizeof err);
        st_close(f);
    }
    free(buf);
    return 0;
}
