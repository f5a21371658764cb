/* runtime/resample.h — bicubic resize of the two middle axes of a
 * [outer, ih, iw, inner] tensor, matching torch's F.interpolate(mode="bicubic",
 * align_corners=False) with and without antialias.  Called by the reference
 * interpreter and by JIT-compiled code (exported with default visibility). */
#ifndef VIT_RESAMPLE_H
#define VIT_RESAMPLE_H

#include <stdint.h>

/* src is [outer, ih, iw, inner], dst is [outer, oh, ow, inner], row-major.
 * antialias = 0: classic bicubic, a = -0.75, source indices clamped to the
 *                border (torch antialias=False).
 * antialias != 0: separable bicubic filter, a = -0.5, support widened by the
 *                scale when downsampling, weights normalised per axis and the
 *                window clipped at the border (torch antialias=True).
 * Computed in double, stored as float.  Sizes must be >= 1 (a zero extent
 * writes nothing).  src and dst must not overlap. */
__attribute__((visibility("default")))
void vitrt_resample(const float *src, float *dst, int64_t outer, int64_t ih, int64_t iw,
                    int64_t oh, int64_t ow, int64_t inner, int antialias);

#endif
