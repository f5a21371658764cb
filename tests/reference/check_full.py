#!/usr/bin/env python3
"""Check vitc/vitrun against timm / OpenCLIP on a FULL-size model with seeded weights.

  check_full.py ARCH [--jpeg IMAGE] [--batch N] [--keep DIR]

Builds the full-size model ARCH (see refcommon.ARCHS) with seeded, perturbed weights,
writes W.safetensors (the state dict under its real key names, as a checkpoint holds it)
and input.safetensors ("image" [N, 3, H, W]) into a temporary directory, then runs

  vitc compile archs/ARCH.vit -o M.vitm
  vitrun run M.vitm --weights W.safetensors --tensor input.safetensors -o out.safetensors

and compares each output ("repr" [N, D], "logits" [N, C]) with the library's forward pass
(computed in float64): max|a-b| / max|b| must stay <= 1e-4.

With --jpeg IMAGE it also runs

  vitrun run M.vitm --weights W.safetensors IMAGE -o out_jpeg.safetensors

and compares with the library's eval transform (the full model's pretrained config) +
forward pass, tolerance 2e-3.

Binaries: $VITC and $VITRUN, default build/vitc and build/vitrun under the repo root.
Exit status 0 when every output is within tolerance, 1 otherwise, 2 on a tool failure.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

TOL = 1e-4
TOL_JPEG = 2e-3


def tool(env, default):
    p = os.environ.get(env)
    if p:
        return p
    return os.path.join(rc.REPO_ROOT, default)


def run(cmd):
    print('+ ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd)
    if r.returncode != 0:
        print('command failed with status %d' % r.returncode)
        sys.exit(2)
    print('  (%.1f s)' % (time.time() - t0))


def build_full(arch, seed):
    torch.manual_seed(seed)
    if arch['kind'] == 'timm':
        timm = rc.import_timm()
        model = timm.create_model(arch['source'], pretrained=False).eval()
    else:
        oc = rc.import_open_clip()
        cfg = oc.get_model_config(arch['source'])
        model = oc.model.CLIP(**cfg).eval()  # whole CLIP: the checkpoint holds the text tower too
    rc.perturb(model, seed)
    return model


def compare(label, got_path, expected, tol):
    got = rc.load_safetensors(got_path)
    ok = True
    for name, ref in expected.items():
        ref = ref.detach().cpu().double().numpy()
        if name not in got:
            print('%s %-7s MISSING from %s (has: %s)' % (label, name, os.path.basename(got_path),
                                                        ', '.join(got) or 'nothing'))
            ok = False
            continue
        a = got[name]
        if a.size != ref.size:
            print('%s %-7s shape %s, expected %s' % (label, name, list(a.shape), list(ref.shape)))
            ok = False
            continue
        a = a.reshape(ref.shape)
        err = float(np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-30))
        good = err <= tol and np.isfinite(a).all()
        ok &= bool(good)
        print('%s %-7s %-14s max rel err %.3e  (tol %.0e)  %s' % (label, name, str(list(ref.shape)), err, tol,
                                                                  'ok' if good else 'FAIL'))
    for name in got:
        if name not in expected:
            print('%s %-7s (extra output, not compared)' % (label, name))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('arch', help='one of: ' + ', '.join(rc.ARCHS))
    ap.add_argument('--jpeg', metavar='IMAGE', help='also check vitrun on an image file')
    ap.add_argument('--batch', type=int, default=2, help='batch of the random input (default 2)')
    ap.add_argument('--seed', type=int, default=None, help='weight seed (default: derived from ARCH)')
    ap.add_argument('--keep', metavar='DIR', help='work in DIR and keep the files')
    args = ap.parse_args()
    if args.arch not in rc.ARCHS:
        sys.exit('unknown arch %s (known: %s)' % (args.arch, ', '.join(rc.ARCHS)))
    arch = rc.ARCHS[args.arch]
    vitc = tool('VITC', os.path.join('build', 'vitc'))
    vitrun = tool('VITRUN', os.path.join('build', 'vitrun'))
    spec = os.path.join(rc.REPO_ROOT, 'archs', arch['name'] + '.vit')
    for p in (vitc, vitrun, spec):
        if not os.path.exists(p):
            sys.exit('missing %s' % p)
    if args.jpeg and not os.path.exists(args.jpeg):
        sys.exit('missing %s' % args.jpeg)

    seed = args.seed if args.seed is not None else rc.arch_seed(arch['name'], salt=2)
    size = arch['full']['size']
    if args.keep:
        work = os.path.abspath(args.keep)
        os.makedirs(work, exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix='check_full_')
    try:
        print('building %s (%s) at %d px, seed %d' % (arch['name'], arch['source'], size, seed), flush=True)
        model = build_full(arch, seed)
        wpath = os.path.join(work, 'W.safetensors')
        ipath = os.path.join(work, 'input.safetensors')
        rc.save_safetensors(wpath, OrderedDict(model.state_dict().items()), metadata={'format': 'pt'})
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(args.batch, 3, size, size, generator=g, dtype=torch.float32)
        rc.save_safetensors(ipath, OrderedDict(image=x))
        expected = rc.model_outputs(arch, model, x)

        mpath = os.path.join(work, 'M.vitm')
        run([vitc, 'compile', spec, '-o', mpath])
        opath = os.path.join(work, 'out.safetensors')
        run([vitrun, 'run', mpath, '--weights', wpath, '--tensor', ipath, '-o', opath])
        ok = compare('tensor', opath, expected, TOL)

        if args.jpeg:
            xj, tcfg = rc.load_image_tensor(arch, model, size, args.jpeg)
            print('jpeg preprocessing: %s' % {k: tcfg[k] for k in ('input_size', 'crop_pct', 'interpolation',
                                                                    'mean', 'std') if k in tcfg})
            expected_j = rc.model_outputs(arch, model, xj)
            jpath = os.path.join(work, 'out_jpeg.safetensors')
            run([vitrun, 'run', mpath, '--weights', wpath, os.path.abspath(args.jpeg), '-o', jpath])
            ok &= compare('jpeg  ', jpath, expected_j, TOL_JPEG)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print('PASS' if ok else 'FAIL')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
