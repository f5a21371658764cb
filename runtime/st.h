/* runtime/st.h — reading and writing .safetensors checkpoints.
 *
 * File layout (all integers little-endian):
 *   bytes [0, 8)        u64 N: length of the JSON header in bytes
 *   bytes [8, 8 + N)    JSON object, UTF-8, may be padded with trailing spaces:
 *                         { "name": { "dtype": "F32", "shape": [d0, d1, ..],
 *                                     "data_offsets": [begin, end] },
 *                           ...,
 *                           "__metadata__": { "key": "value", ... } }  (optional)
 *   bytes [8 + N, EOF)  the data blob; each tensor occupies blob bytes
 *                       [begin, end), row-major, little-endian elements.
 * Offsets are relative to the start of the blob, not of the file.
 *
 * st_open maps the file read-only and validates the whole header before it
 * returns: types of every field, known dtype, integral non-negative dims,
 * ordered offsets inside the blob, end - begin == numel * dtype size, no two
 * tensors sharing a byte, no duplicate keys.  Gaps between tensors are
 * allowed.  Tensor order is the order of the header.  Every failure is one
 * line "path: what, where, expected vs found" in the caller's buffer.
 *
 * The writer copies what it is given and writes the file atomically: a
 * temporary file in the destination directory, fsync, rename.  Its header is
 * padded with spaces to a multiple of 8 bytes, so F32 data is aligned in a
 * map of the written file.
 */
#ifndef VIT_ST_H
#define VIT_ST_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_RANK 8
#define ST_MAX_HEADER 100000000 /* bytes of JSON header, the limit of the reference reader */

enum st_dtype {
    ST_DTYPE_F32,  /* IEEE binary32 */
    ST_DTYPE_F16,  /* IEEE binary16 */
    ST_DTYPE_BF16, /* bfloat16: the top 16 bits of a binary32 */
    ST_DTYPE_F64,  /* IEEE binary64 */
    ST_DTYPE_I64,  /* signed 64-bit integer */
    ST_DTYPE_I32,  /* signed 32-bit integer */
    ST_DTYPE_U8,   /* unsigned byte */
    ST_DTYPE_BOOL, /* one byte, 0 or 1 */
    ST_DTYPE_COUNT
};

typedef struct {
    const char *name;       /* header key (owned by the StFile) */
    enum st_dtype dtype;    /* element type */
    int rank;               /* number of dims, 0..ST_MAX_RANK (0: scalar) */
    int64_t shape[ST_MAX_RANK]; /* dims, outermost first */
    uint64_t begin, end;    /* byte range [begin, end) in the data blob */
} StTensor;

typedef struct {
    const char *key;   /* __metadata__ key (owned by the StFile) */
    const char *value; /* its string value (owned by the StFile) */
} StMeta;

typedef struct StFile {
    const char *path;          /* path as passed to st_open (owned copy) */
    int fd;                    /* read-only descriptor, closed by st_close */
    void *map;                 /* read-only mapping of the whole file */
    size_t size;               /* file size in bytes */
    uint64_t header_len;       /* N: length of the JSON header */
    const unsigned char *data; /* start of the data blob: map + 8 + N */
    size_t data_len;           /* blob length in bytes: size - 8 - N */
    int n;                     /* number of tensors */
    StTensor *t;               /* tensors [0, n), in header order */
    int nmeta;                 /* number of __metadata__ entries */
    StMeta *meta;              /* metadata [0, nmeta), in header order */
    int *by_name;              /* tensor indices sorted by name, for st_find */
    char *strings;             /* one block holding path, names and metadata */
} StFile;

/* 0 on success with *out set; else -1, *out NULL and a message in err. */
int st_open(const char *path, StFile **out, char *err, size_t errlen);
void st_close(StFile *f); /* NULL is fine */
int64_t st_find(const StFile *f, const char *name); /* index, -1 if absent */
const char *st_meta(const StFile *f, const char *key); /* NULL if absent */

const char *st_dtype_name(enum st_dtype d); /* "F32", ...; "?" if out of range */
int st_dtype_size(enum st_dtype d);         /* bytes per element, 0 if out of range */
int64_t st_numel(const StTensor *t);        /* product of dims (1 for rank 0) */

/* Exact conversions of the raw 16-bit patterns (subnormals, inf, nan kept). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t b);

/* Convert tensor idx to float32 into dst (numel floats). F32/F16/BF16/F64
 * accepted (F64 rounds to nearest); 0 ok, -1 + err otherwise. */
int st_read_f32(const StFile *f, int64_t idx, float *dst, char *err, size_t errlen);
/* F32 tensors that are 4-byte aligned in the map may be used in place:
 * returns a pointer into the map, or NULL (other dtype, misaligned, bad idx,
 * or a big-endian host). */
const float *st_data_f32(const StFile *f, int64_t idx);

/* Writer.  The add/meta calls copy their arguments and return 0, or -1 on a
 * bad argument (NULL, rank, duplicate or reserved name, size) or no memory;
 * the first such error is kept and makes st_writer_finish fail with it. */
typedef struct StWriter StWriter;
StWriter *st_writer_new(void); /* NULL when out of memory */
int st_writer_add_f32(StWriter *w, const char *name, int rank, const int64_t *shape,
                      const float *data);
/* Any dtype: `data` holds numel * st_dtype_size(dtype) bytes, little-endian. */
int st_writer_add_raw(StWriter *w, const char *name, enum st_dtype dtype, int rank,
                      const int64_t *shape, const void *data);
int st_writer_meta(StWriter *w, const char *key, const char *value);
/* Writes tensors in the order added, metadata first; also frees w (NULL w
 * fails).  0 ok; else -1 with err set, no temporary file left behind, and
 * path untouched (absent, or with its previous content). */
int st_writer_finish(StWriter *w, const char *path, char *err, size_t errlen);
void st_writer_free(StWriter *w); /* NULL is fine */

#endif
