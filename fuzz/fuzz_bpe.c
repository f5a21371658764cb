/* fuzz/fuzz_bpe.c — CLIP's BPE vocabulary loader (OpenCLIP's merges file,
 * plain or gzipped) and the tokenizer (runtime/bpe.c).  Input: a text to
 * encode, a NUL byte, then the merges file; without a NUL the whole input is
 * text, encoded with the bundled toy vocabulary. */
#include "bpe.h"
#include "fuzz.h"

#ifndef VIT_SOURCE_DIR
#define VIT_SOURCE_DIR "."
#endif

static void encode(const BpeTok *t, const uint8_t *text, size_t n) {
    char *s = malloc(n + 1), err[512];
    int32_t ids[77];
    if (!s) return;
    memcpy(s, text, n);
    s[n] = 0;
    int k = bpe_encode(t, s, 77, ids, err, sizeof err);
    if (k > 77) abort();
    for (int i = 0; i < k; i++)
        if (ids[i] < 0 || ids[i] >= bpe_vocab_size(t) || !bpe_token(t, ids[i])) abort();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static BpeTok *toy;
    char err[1024];
    const uint8_t *nul = memchr(data, 0, size);
    size_t ntext = nul ? (size_t)(nul - data) : size;
    if (ntext == size) {
        if (!toy && bpe_load(VIT_SOURCE_DIR "/examples/toy/clip_toy_vocab.txt", &toy, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
        encode(toy, data, size);
        return 0;
    }
    BpeTok *t = NULL;
    if (bpe_load(fz_write("vocab.txt", nul + 1, size - ntext - 1), &t, err, sizeof err)) return 0;
    encode(t, data, ntext);
    bpe_free(t);
    return 0;
}
