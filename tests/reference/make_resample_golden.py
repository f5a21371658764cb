#!/usr/bin/env python3
"""tests/reference/make_resample_golden.py — writes the golden cases for
vitrt_resample into tests/golden/resample/, computed with
torch.nn.functional.interpolate(mode="bicubic", align_corners=False),
antialias off and on.  Inputs are float32 values; torch evaluates them in
float64 (so the reference carries no float32 rounding of source positions)
and the result is stored as float32.
Run from the repository root: python3 tests/reference/make_resample_golden.py

File format (<case>.bin, all little-endian):
  bytes [0, 8)    magic b"VITRSMP1"
  7 x int64       outer, ih, iw, oh, ow, inner, antialias (0 or 1)
  float32 data    input  [outer, ih, iw, inner], row-major
  float32 data    output [outer, oh, ow, inner], row-major
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

OUT_DIR = os.path.join("tests", "golden", "resample")

# name, outer, (ih, iw), (oh, ow), inner
CASES = [
    ("down_7x7_5x9", 2, (7, 7), (5, 9), 1),
    ("up_4x4_9x9", 1, (4, 4), (9, 9), 2),
    ("down_37x37_16x16", 1, (37, 37), (16, 16), 3),
    ("mixed_5x3_12x2", 1, (5, 3), (12, 2), 4),
    ("pos_14x14_16x16", 1, (14, 14), (16, 16), 8),
    ("down_24x24_7x7", 1, (24, 24), (7, 7), 2),
    ("edge_1x6_3x6", 3, (1, 6), (3, 6), 1),
]


def run(x, size, antialias):
    """x: [outer, ih, iw, inner] -> [outer, oh, ow, inner]"""
    t = torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2).contiguous()
    y = F.interpolate(t, size=size, mode="bicubic", align_corners=False,
                      antialias=antialias)
    return y.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.RandomState(1234)
    total = 0
    for name, outer, (ih, iw), (oh, ow), inner in CASES:
        x = rng.uniform(-1.0, 1.0, size=(outer, ih, iw, inner)).astype(np.float32)
        for aa in (0, 1):
            y = run(x, (oh, ow), bool(aa))
            assert y.shape == (outer, oh, ow, inner)
            path = os.path.join(OUT_DIR, "%s_aa%d.bin" % (name, aa))
            with open(path, "wb") as f:
                f.write(b"VITRSMP1")
                f.write(struct.pack("<7q", outer, ih, iw, oh, ow, inner, aa))
                f.write(x.astype("<f4").tobytes())
                f.write(y.astype("<f4").tobytes())
            total += os.path.getsize(path)
            print("%s  %d bytes" % (path, os.path.getsize(path)))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
