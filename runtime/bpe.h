/* runtime/bpe.h — CLIP's byte-pair-encoding tokenizer, equal to OpenCLIP's
 * SimpleTokenizer (clean 'lower'): text cleaning, pre-tokenizer, byte-level
 * BPE with '</w>' word ends, <start_of_text> / <end_of_text> framing. */
#ifndef VIT_BPE_H
#define VIT_BPE_H
#include <stddef.h>
#include <stdint.h>

typedef struct BpeTok BpeTok;

/* Load a vocabulary: OpenCLIP's merges file (bpe_simple_vocab_16e6.txt.gz, gzipped or
 * plain: a header line, then one merge "a b" per line; vocab = 256 byte tokens, their
 * '</w>' forms, the merges, <start_of_text>, <end_of_text>), or a Hugging Face pair
 * vocab.json + merges.txt (give the directory or either file).  0 ok, -1 + message. */
int bpe_load(const char *path, BpeTok **out, char *err, size_t errlen);
void bpe_free(BpeTok *t);
int bpe_vocab_size(const BpeTok *t);          /* 49408 for CLIP */
/* The string of token `id` (byte-level form, e.g. "cat</w>"), NULL if out of range. */
const char *bpe_token(const BpeTok *t, int id);

/* Tokenize like open_clip.tokenize(text, ctx): <sot> + BPE ids + <eot>, truncated to ctx
 * keeping <eot> last, zero-padded to ctx.  Returns the number of non-pad tokens, or -1
 * with a message (invalid UTF-8, ctx < 1, a byte the vocabulary lacks, no memory). */
int bpe_encode(const BpeTok *t, const char *text, int ctx, int32_t *ids, char *err, size_t errlen);

#endif
