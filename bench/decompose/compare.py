#!/usr/bin/env python3
"""Compare a `vitrun decompose` output with a reference one (run_reference.py decompose).

    python3 bench/decompose/compare.py OURS.safetensors REF.safetensors

Both files hold `contrib` [images, components, dim]; the component names come from the
JSON sidecars (same base name) and must agree one to one. Prints one JSON line:
  max_diff_rel   max over images and components of max|ours - ref| / ||z_ref||
  sum_ours       max over images of max|sum(contrib) - z| / ||z||, ours (z = our repr)
  sum_ref        the same for the reference (float64, before storage)
  z_diff_rel     max|z_ours - z_ref| / ||z_ref||
plus the component whose difference is largest.
"""

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'tests', 'reference'))
import refcommon as rc  # noqa: E402


def names_of(path):
    with open(os.path.splitext(path)[0] + '.json') as f:
        meta = json.load(f)
    return [c['name'] if isinstance(c, dict) else c for c in meta['components']], meta


def compare(ours_path, ref_path):
    ours = rc.load_safetensors(ours_path)
    ref = rc.load_safetensors(ref_path)
    on, _ = names_of(ours_path)
    rn, rmeta = names_of(ref_path)
    assert on == rn, 'component names differ: %s' % next((a, b) for a, b in zip(on, rn) if a != b) \
        if len(on) == len(rn) else 'component counts differ: %d vs %d' % (len(on), len(rn))
    a, b = ours['contrib'], ref['contrib']
    n = b.shape[0]  # the reference may cover fewer images (token mode)
    a = a[:n]
    zo = (ours['repr'] if 'repr' in ours else ours['z']).reshape(-1, a.shape[-1])[:n]
    zr = ref['z']
    zn = np.linalg.norm(zr, axis=-1)
    d = np.abs(a - b).max(-1) / zn[:, None]  # [images, components]
    i, k = np.unravel_index(np.argmax(d), d.shape)
    out = dict(ours=os.path.basename(ours_path), ref=os.path.basename(ref_path), images=int(n),
               components=len(on), max_diff_rel=float(d.max()), worst='%s (image %d)' % (on[k], i),
               median_comp_diff_rel=float(np.median(d)),
               sum_ours=float((np.abs(a.sum(1) - zo).max(-1) / np.linalg.norm(zo, axis=-1)).max()),
               sum_ref=float(rmeta['sum_check']),
               z_diff_rel=float((np.abs(zo - zr).max(-1) / zn).max()))
    return out


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(compare(sys.argv[1], sys.argv[2])))
