"""tests/reference/make_img_goldens.py: reference outputs for runtime/img.c.

Decodes images with PIL (Image.open(...).convert('RGB'), as timm's datasets do)
and runs torchvision's Resize + CenterCrop and timm's eval transform on them,
writing tests/golden/img/img.safetensors plus small odd-format test images
(bit depths, palettes, interlacing, alpha, CMYK, grey JPEG) next to it.

Run from the repository root:
    PYTHONPATH=<timm checkout> python3 tests/reference/make_img_goldens.py
    ... --samples   also rebuilds examples/images/ from scikit-image's data
"""
import argparse
import glob
import io
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

try:
    from timm.data.transforms_factory import transforms_imagenet_eval
except ImportError:
    sys.exit("timm is not importable: set PYTHONPATH to a pytorch-image-models checkout")

GOLD = "tests/golden/img"
EXAMPLES = "examples/images"
SHARED = "../shared/data/images"

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
INTERP = {0: ("bilinear", InterpolationMode.BILINEAR), 1: ("bicubic", InterpolationMode.BICUBIC)}


def fnv1a64(data):
    """64-bit FNV-1a over bytes, as a 16-digit hex string (the C test has the same)."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def load_rgb(path):
    with Image.open(path) as im:
        return im.convert("RGB")


# ---------------------------------------------------------------- samples

def make_samples():
    """examples/images/ from scikit-image's bundled data (see the README there)."""
    import skimage
    src = os.path.join(os.path.dirname(skimage.__file__), "data")
    os.makedirs(EXAMPLES, exist_ok=True)
    Image.open(os.path.join(src, "chelsea.png")).convert("RGB").save(
        os.path.join(EXAMPLES, "chelsea.jpg"), quality=90)
    rocket = Image.open(os.path.join(src, "rocket.jpg")).convert("RGB")
    rocket.resize((480, 321), Image.LANCZOS).save(
        os.path.join(EXAMPLES, "rocket.jpg"), quality=85, progressive=True)
    coffee = Image.open(os.path.join(src, "coffee.png")).convert("RGB")
    coffee.resize((270, 180), Image.LANCZOS).save(os.path.join(EXAMPLES, "coffee.png"), optimize=True)
    camera = Image.open(os.path.join(src, "camera.png")).convert("L")
    camera.resize((256, 256), Image.LANCZOS).save(os.path.join(EXAMPLES, "camera.png"), optimize=True)


# ---------------------------------------------------------------- odd formats

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_samples(vals, depth):
    vals = np.asarray(vals).ravel().astype(np.int64)
    if depth == 8:
        return vals.astype(np.uint8).tobytes()
    if depth == 16:
        return vals.astype(">u2").tobytes()
    bits = ((vals[:, None] >> np.arange(depth - 1, -1, -1)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits).tobytes()


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, px, depth, ctype, interlace=False, plte=None, trns=None, extra=()):
    """px: (h, w, channels) integer samples at `depth` bits; filter type 0 rows."""
    h, w = px.shape[:2]
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = px[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\0" + pack_samples(row, depth)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0))
    for kind, data in extra:
        out += png_chunk(kind, data)
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(plte, np.uint8).ravel()))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    out += png_chunk(b"IDAT", zlib.compress(raw, 9))
    out += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def make_variants():
    """Small files, one per decoding path; returns their paths."""
    base = np.asarray(load_rgb(os.path.join(EXAMPLES, "chelsea.jpg")).resize((37, 29), Image.BILINEAR),
                      np.int64)
    grey = (base[..., 0] * 299 + base[..., 1] * 587 + base[..., 2] * 114) // 1000
    alpha = (np.arange(37)[None, :] * 7 + np.arange(29)[:, None] * 3) % 256
    g = lambda a: a[..., None]
    v = {}
    v["g1.png"] = (g(grey >> 7), 1, 0, {})
    v["g2.png"] = (g(grey >> 6), 2, 0, {})
    v["g4i.png"] = (g(grey >> 4), 4, 0, {"interlace": True})
    v["g8t.png"] = (g(grey), 8, 0, {"trns": struct.pack(">H", 40)})
    v["g16.png"] = (g(grey * 3), 16, 0, {})          # PIL clips mode "I" to 0..255
    v["ga8.png"] = (np.dstack([grey, alpha]), 8, 4, {})
    v["ga16.png"] = (np.dstack([grey * 257, alpha * 250]), 16, 4, {})
    v["rgb8g.png"] = (base, 8, 2, {"trns": struct.pack(">HHH", 10, 20, 30),
                                   "extra": [(b"gAMA", struct.pack(">I", 100000))]})
    v["rgb16i.png"] = (base * 256 + (np.arange(37)[None, :, None] % 200), 16, 2, {"interlace": True})
    v["rgba8.png"] = (np.dstack([base, alpha]), 8, 6, {})
    v["rgba16.png"] = (np.dstack([base * 256 + 255, alpha * 256]), 16, 6, {})
    # palettes: 4-bit with only 12 entries (indices 12..15 fall outside it), 1-bit, 8-bit with tRNS
    pal = np.array([[i * 20, 255 - i * 20, (i * 77) % 256] for i in range(12)])
    v["p4.png"] = (g(((grey >> 4) + np.arange(37)[None, :]) % 16), 4, 3, {"plte": pal})
    v["p1.png"] = (g(grey >> 7), 1, 3, {"plte": [[200, 30, 40], [10, 220, 90]]})
    q = Image.fromarray(base.astype(np.uint8)).quantize(64)
    qpal = np.array(q.getpalette()[:64 * 3]).reshape(64, 3)
    v["p8t.png"] = (g(np.asarray(q)), 8, 3, {"plte": qpal, "trns": bytes(range(0, 256, 8)), "interlace": True})
    paths = []
    for name, (px, depth, ctype, kw) in v.items():
        path = os.path.join(GOLD, name)
        write_png(path, px, depth, ctype, interlace=kw.get("interlace", False), plte=kw.get("plte"),
                  trns=kw.get("trns"), extra=kw.get("extra", ()))
        paths.append(path)
    rgb = Image.fromarray(base.astype(np.uint8))
    jpgs = {
        "grey.jpg": (rgb.convert("L"), {}),
        "cmyk.jpg": (rgb.convert("CMYK"), {}),
        "s444.jpg": (rgb, {"subsampling": 0}),
        "s422.jpg": (rgb, {"subsampling": 1}),
        "prog.jpg": (rgb, {"progressive": True, "subsampling": 2}),
    }
    for name, (im, kw) in jpgs.items():
        path = os.path.join(GOLD, name)
        im.save(path, quality=88, **kw)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- goldens

class Writer:
    def __init__(self):
        self.tensors, self.meta = [], {}

    def add(self, name, arr, meta=None):
        self.tensors.append((name, np.ascontiguousarray(arr)))
        if meta is not None:
            self.meta[name] = json.dumps(meta, sort_keys=True)

    def save(self, path):
        header, blobs, off = {}, [], 0
        dt = {np.dtype(np.uint8): "U8", np.dtype(np.float32): "F32"}
        for name, a in self.tensors:
            b = a.astype(a.dtype.newbyteorder("<")).tobytes()
            header[name] = {"dtype": dt[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
            blobs.append(b)
            off += len(b)
        header["__metadata__"] = self.meta
        hj = json.dumps(header, sort_keys=True).encode()
        hj += b" " * (-len(hj) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))


def f32(x):
    """a float32 value as the shortest decimal that reads back to it"""
    return float(repr(np.float32(x)))


def crop_u8(img, resize, size, interp):
    t = T.Compose([T.Resize(resize, interpolation=INTERP[interp][1]), T.CenterCrop(size)])
    return np.asarray(t(img), np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", action="store_true", help="rebuild examples/images first")
    args = ap.parse_args()
    if args.samples:
        make_samples()
    os.makedirs(GOLD, exist_ok=True)
    w = Writer()

    # decoding: every shipped and odd-format file, as PIL decodes it
    examples = sorted(glob.glob(os.path.join(EXAMPLES, "*.jpg")) + glob.glob(os.path.join(EXAMPLES, "*.png")))
    for path in examples + make_variants():
        img = load_rgb(path)
        a = np.asarray(img, np.uint8)
        w.meta["decode:" + path] = json.dumps({"w": img.width, "h": img.height, "fnv": fnv1a64(a.tobytes()),
                                               "crop32": fnv1a64(crop_u8(img, 36, 32, 1).tobytes())})

    # Resize + CenterCrop as uint8 HWC (what ToTensor sees)
    cases = []
    for path in examples:
        for interp in (0, 1):
            cases += [(path, 73, 64, interp), (path, 96, 96, interp)]
    cases += [(os.path.join(EXAMPLES, "camera.png"), 384, 96, 1),      # upscaling
              (os.path.join(EXAMPLES, "chelsea.jpg"), 48, 64, 0),      # crop larger than image: zero pad
              (os.path.join(EXAMPLES, "rocket.jpg"), 50, 53, 1)]       # odd crop in both directions
    for i, (path, resize, size, interp) in enumerate(cases):
        a = crop_u8(load_rgb(path), resize, size, interp)
        w.add("u8_%02d" % i, a, {"image": path, "resize": resize, "size": size, "interp": interp})

    # timm's own eval transform, as float32 CHW
    fcases = [(os.path.join(EXAMPLES, "chelsea.jpg"), 224, 0.9, 1, CLIP),
              (os.path.join(EXAMPLES, "coffee.png"), 64, 0.875, 0, IMAGENET),
              (os.path.join(EXAMPLES, "camera.png"), 64, 1.0, 1, HALF),
              (os.path.join(EXAMPLES, "rocket.jpg"), 64, 0.95, 1, IMAGENET)]
    for i, (path, size, pct, interp, (mean, std)) in enumerate(fcases):
        t = transforms_imagenet_eval(img_size=size, crop_pct=pct, interpolation=INTERP[interp][0],
                                     mean=mean, std=std)
        x = t(load_rgb(path)).numpy().astype(np.float32)
        w.add("f32_%02d" % i, x, {"image": path, "resize": math.floor(size / pct), "size": size, "interp": interp,
                                  "mean": [f32(m) for m in mean], "std": [f32(s) for s in std]})

    # real photos kept outside the repository: hashes only
    for path in sorted(glob.glob(os.path.join(SHARED, "*.jpg"))):
        img = load_rgb(path)
        rec = {"w": img.width, "h": img.height, "fnv": fnv1a64(np.asarray(img, np.uint8).tobytes()),
               "bicubic224": fnv1a64(crop_u8(img, 248, 224, 1).tobytes()),
               "bilinear224": fnv1a64(crop_u8(img, 256, 224, 0).tobytes())}
        w.meta["shared:" + os.path.basename(path)] = json.dumps(rec, sort_keys=True)

    w.save(os.path.join(GOLD, "img.safetensors"))
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(GOLD, "*")))
    print("wrote %s (%d tensors), golden dir %d bytes" % (GOLD, len(w.tensors), total))


if __name__ == "__main__":
    main()
