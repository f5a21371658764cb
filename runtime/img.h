/* runtime/img.h — image input: JPEG/PNG decoding to packed RGB8 the way
 * PIL's Image.open(...).convert('RGB') does it, and timm's evaluation
 * transform (torchvision Resize of the shorter side with PIL resampling,
 * CenterCrop, ToTensor, Normalize) reproduced bit for bit.
 * All functions return 0 on success, -1 with a one-line message in err. */
#ifndef VIT_IMG_H
#define VIT_IMG_H

#include <stddef.h>
#include "ir.h"

/* Decode a JPEG (TurboJPEG) or PNG (libpng), chosen by the file's content,
 * to packed RGB8 (3 bytes a pixel, rows top to bottom).  Greyscale, palette,
 * alpha, 16-bit and CMYK inputs are converted as PIL's convert('RGB') does.
 * *rgb is malloc'd (NULL on failure). */
int img_load_rgb8(const char *path, unsigned char **rgb, int *w, int *h, char *err, size_t errlen);

/* Same, from a buffer already in memory; `name` only labels messages. */
int img_decode_rgb8(const unsigned char *data, size_t len, const char *name,
                    unsigned char **rgb, int *w, int *h, char *err, size_t errlen);

/* torchvision's Resize(resize) size for a w x h image: the shorter side
 * becomes `resize`, the other int(resize * long / short). */
void img_resized_size(int w, int h, int resize, int *ow, int *oh);

/* PIL's Image.resize((ow, oh), BILINEAR or BICUBIC) of packed RGB8:
 * interp 0 bilinear, 1 bicubic.  out holds ow * oh * 3 bytes. */
int img_resample_rgb8(const unsigned char *in, int w, int h, int ow, int oh, int interp,
                      unsigned char *out, char *err, size_t errlen);

/* Resize(p->resize) then CenterCrop(p->size) (zero padding where the image
 * is smaller than the crop): the uint8 image ToTensor sees.
 * out holds p->size * p->size * 3 bytes, packed RGB (HWC). */
int img_resize_crop_rgb8(const unsigned char *rgb, int w, int h, const IrPreprocess *p,
                         unsigned char *out, char *err, size_t errlen);

/* timm eval transform: Resize + CenterCrop as above, then /255 and
 * (x - mean) / std per channel.  out: 3 * size * size floats, CHW. */
int img_preprocess(const unsigned char *rgb, int w, int h, const IrPreprocess *p,
                   float *out, char *err, size_t errlen);

/* img_load_rgb8 + img_preprocess */
int img_load_tensor(const char *path, const IrPreprocess *p, float *out, char *err, size_t errlen);

#endif
