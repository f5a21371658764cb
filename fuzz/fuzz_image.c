/* fuzz/fuzz_image.c — the image decoders (JPEG through TurboJPEG, PNG
 * through libpng) and timm's evaluation preprocessing (runtime/img.c). */
#include "fuzz.h"
#include "img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *rgb = NULL;
    int w = 0, h = 0;
    char err[1024];
    if (img_decode_rgb8(data, size, "input", &rgb, &w, &h, err, sizeof err)) {
        if (rgb) abort(); /* failure leaves nothing allocated */
        return 0;
    }
    /* both interpolations, a crop bigger and smaller than the image */
    static const IrPreprocess pre[2] = {{24, 27, 1, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
                                        {40, 40, 0, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}}};
    for (int k = 0; k < 2; k++) {
        float *out = malloc(3 * sizeof(float) * (size_t)pre[k].size * (size_t)pre[k].size);
        if (out && img_preprocess(rgb, w, h, &pre[k], out, err, sizeof err) == 0) {
            for (int i = 0; i < 3 * pre[k].size * pre[k].size; i++)
                if (out[i] != out[i]) abort(); /* no NaN from a valid image */
        }
        free(out);
    }
    free(rgb);
    return 0;
}
