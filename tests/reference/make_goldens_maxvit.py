#!/usr/bin/env python3
"""MaxViT (timm maxxvit.py, the `_tf_` configs): goldens, key lists and a full-size check.

  make_goldens_maxvit.py [ARCH ...]              tests/golden/<arch>/ (small models) and
                                                 tests/keys/<arch>.txt (full-size key list)
  make_goldens_maxvit.py --full ARCH [--jpeg IMAGE] [--batch N] [--keep DIR]
                                                 full-size model vs vitc / vitrun

Goldens: a small model of the same config (timm create_model(<arch>, img_size, embed_dim,
depths, stem_width, head_hidden_size, transformer_dim_head, num_classes=0)), every parameter
overwritten by refcommon.perturb, then the BatchNorm running statistics (buffers, which
perturb leaves alone) set to running_mean 0.1*randn, running_var exp(0.3*randn) (positive),
and the relative position tables to 0.5*randn (so the bias matters as much as q.k).

Outputs (float64, stored as F32):
  repr        forward_features(x).mean((-1, -2))   (the paper's representation; the _tf_
              models have no final norm in forward_features)
  pre_logits  forward_head(forward_features(x), pre_logits=True): pool, head.norm,
              head.pre_logits.fc, tanh
  logits      model(x) (only when num_classes > 0: the full-size check)

The goldens are built with num_classes=0 (timm then keeps head.norm and head.pre_logits and
drops head.fc): `logits` goes through tanh, so it is not affine in the residual stream and
the decomposition tests (which try `repr` and `logits` of every golden) could not decompose
it. head.fc is a plain nn.Linear; the full-size check covers it.

Key lists: the full-size state dict with its shapes, except the BatchNorm
`num_batches_tracked` counters (int64 in timm checkpoints, unused in eval), which the spec
declares `unused`; both are printed.
"""

import argparse
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

BATCH = 2
TOL = 1e-4
TOL_JPEG = 2e-3
SPEC_KEYS = ('size', 'stem', 'dim', 'depth0', 'depth1', 'depth2', 'depth3', 'window', 'head_dim', 'hidden',
             'classes')

ARCHS = OrderedDict()


def _arch(name, source, full, tiny, jpeg=None):
    ARCHS[name] = dict(name=name, kind='timm', source=source, family='maxvit', full=full, tiny=tiny,
                       jpeg=jpeg)


# full: the full-size model's config values (as the spec names them); tiny: the small golden's
# (size 96: stem 48, stages 24, 12, 6, 3 px; window = grid = 96 // 32 = 3, rel-pos tables 5x5;
# small: width 7 makes MBConv's expansion 28 round up to 32 (make_divisible) and the stem (8)
# differ from stage 0, so every stage's first shortcut has its 1x1 expand)
_arch('maxvit_tiny_tf_224', 'maxvit_tiny_tf_224.in1k',
      dict(size=224, stem=64, dim=64, depth0=2, depth1=2, depth2=5, depth3=2, window=7, head_dim=32,
           hidden=512, classes=1000),
      dict(size=96, stem=8, dim=8, depth0=1, depth1=2, depth2=1, depth3=1, window=3, head_dim=4,
           hidden=64, classes=0), jpeg='chelsea.jpg')
_arch('maxvit_small_tf_224', 'maxvit_small_tf_224.in1k',
      dict(size=224, stem=64, dim=96, depth0=2, depth1=2, depth2=5, depth3=2, window=7, head_dim=32,
           hidden=768, classes=1000),
      dict(size=96, stem=8, dim=7, depth0=2, depth1=1, depth2=1, depth3=1, window=3, head_dim=7,
           hidden=56, classes=0))


def values_of(arch, full):
    v = dict(arch['full'])
    if not full:
        v.update(arch['tiny'])
    return v


def build(arch, values, seed):
    """The timm model for these spec values, seeded and perturbed."""
    timm = rc.import_timm()
    torch.manual_seed(seed)
    d = values['dim']
    model = timm.create_model(
        arch['source'], pretrained=False, img_size=values['size'], num_classes=values['classes'],
        embed_dim=(d, 2 * d, 4 * d, 8 * d),
        depths=(values['depth0'], values['depth1'], values['depth2'], values['depth3']),
        stem_width=values['stem'], head_hidden_size=values['hidden'],
        transformer_dim_head=values['head_dim']).eval()
    assert model.stages[0].blocks[0].attn_block.partition_size == (values['window'],) * 2
    rc.perturb(model, seed)
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(torch.exp(0.3 * torch.randn(m.running_var.shape, generator=g)))
            t = getattr(m, 'relative_position_bias_table', None)
            if t is not None:
                t.copy_(0.5 * torch.randn(t.shape, generator=g))
    return model


@torch.no_grad()
def outputs(model, x):
    import copy
    m = copy.deepcopy(model).double().eval()
    x = x.double()
    feats = m.forward_features(x)
    out = OrderedDict()
    out['repr'] = feats.mean((-1, -2))
    out['pre_logits'] = m.forward_head(feats, pre_logits=True)
    if m.num_classes > 0:
        out['logits'] = m(x)
    return out


def make_input(seed, size, batch=BATCH):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, size, size, generator=g, dtype=torch.float32)


def rel(path):
    return os.path.relpath(path, rc.REPO_ROOT).replace(os.sep, '/')


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def is_counter(key):
    return key.endswith('num_batches_tracked')


def make_keys(arch):
    model = build(arch, values_of(arch, True), 0)
    sd = model.state_dict()
    path = os.path.join(rc.KEYS_DIR, arch['name'] + '.txt')
    n = 0
    with open(path, 'w') as f:
        for k, v in sd.items():
            if not is_counter(k):
                f.write('%s\t%s\n' % (k, ','.join(str(int(s)) for s in v.shape)))
                n += 1
    print('%-24s %s: %d keys (+ %d num_batches_tracked, declared unused)'
          % (arch['name'], rel(path), n, len(sd) - n))


def jpeg_golden(arch, model, values, outdir, cfg):
    path = os.path.join(rc.IMAGES_DIR, arch['jpeg'])
    x, tcfg = rc.load_image_tensor(arch, model, values['size'], path)
    out = outputs(model, x)
    rc.save_safetensors(os.path.join(outdir, 'jpeg.safetensors'), out)
    size = values['size']
    r = math.floor(size / tcfg['crop_pct'])
    from PIL import Image
    with Image.open(path) as im:
        w, h = im.size
    nw, nh = (r, int(r * h / w)) if w <= h else (int(r * w / h), r)
    pre = OrderedDict([
        ('input_size', list(tcfg['input_size'])), ('crop_pct', tcfg['crop_pct']),
        ('crop_mode', tcfg.get('crop_mode', 'center')), ('interpolation', tcfg['interpolation']),
        ('mean', [float(v) for v in tcfg['mean']]), ('std', [float(v) for v in tcfg['std']]),
        ('resize_shorter_to', r), ('center_crop', size), ('image_size', [w, h]), ('resized_to', [nw, nh]),
        ('crop_left_top', [int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))])])
    cfg['jpeg'] = OrderedDict([
        ('image', rel(path)), ('image_sha256', sha256(path)), ('preprocess', pre),
        ('transform', 'timm.data.create_transform(**resolve_data_config({"input_size": (3, %d, %d)}, model=model))'
         % (size, size)),
        ('outputs', OrderedDict((k, list(v.shape)) for k, v in out.items())), ('tolerance', TOL_JPEG)])


def make_golden(arch):
    values = values_of(arch, False)
    seed = rc.arch_seed(arch['name'])
    model = build(arch, values, seed)
    x = make_input(seed + 1, values['size'])
    out = outputs(model, x)
    outdir = os.path.join(rc.GOLDEN_DIR, arch['name'])
    os.makedirs(outdir, exist_ok=True)
    cfg = OrderedDict()
    cfg['arch'] = arch['name']
    cfg['library'] = 'timm'
    cfg['model'] = arch['source']
    cfg['set'] = OrderedDict((k, values[k]) for k in SPEC_KEYS if values[k] != arch['full'][k])
    cfg['size'] = values['size']
    cfg['batch'] = BATCH
    cfg['values'] = OrderedDict((k, values[k]) for k in SPEC_KEYS)
    cfg['full'] = OrderedDict((k, arch['full'][k]) for k in SPEC_KEYS)
    cfg['preprocess'] = rc.pretrained_preprocess(arch)
    cfg['tolerance'] = TOL
    cfg['reference'] = 'computed in float64, stored as F32; tolerance is max|a-b| / max|b| per output'
    cfg['notes'] = [
        'repr = forward_features(x).mean((-1, -2)); pre_logits = forward_head(forward_features(x), '
        'pre_logits=True); built with num_classes=0 (no head.fc, no logits)',
        'BatchNorm running_mean 0.1*randn, running_var exp(0.3*randn); relative_position_bias_table '
        '0.5*randn; other parameters as refcommon.perturb',
    ]
    if arch['jpeg']:
        jpeg_golden(arch, model, values, outdir, cfg)
    sd = OrderedDict((k, v) for k, v in model.state_dict().items())
    rc.save_safetensors(os.path.join(outdir, 'weights.safetensors'), sd, metadata={'format': 'pt'})
    rc.save_safetensors(os.path.join(outdir, 'input.safetensors'), OrderedDict(image=x))
    rc.save_safetensors(os.path.join(outdir, 'expected.safetensors'), out)
    cfg['outputs'] = OrderedDict((k, list(v.shape)) for k, v in out.items())
    rc.write_json(os.path.join(outdir, 'config.json'), cfg)
    print('%-24s %s' % (arch['name'], ' '.join('%s=%s' % kv for kv in cfg['set'].items())))


# ---- full-size check ----------------------------------------------------------------------

def tool(env, default):
    return os.environ.get(env) or os.path.join(rc.REPO_ROOT, default)


def run(cmd):
    print('+ ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd)
    if r.returncode != 0:
        print('command failed with status %d' % r.returncode)
        sys.exit(2)
    print('  (%.1f s)' % (time.time() - t0))


def compare(label, got_path, expected, tol):
    got = rc.load_safetensors(got_path)
    ok = True
    for name, ref in expected.items():
        ref = ref.detach().double().numpy()
        if name not in got or got[name].shape != ref.shape:
            print('%s %s: missing or mis-shaped in the output' % (label, name))
            ok = False
            continue
        err = abs(got[name] - ref).max() / abs(ref).max()
        print('%s %-10s %-12s max rel err %.2e  (tol %.0e)' % (label, name, str(list(ref.shape)), err, tol))
        ok &= err <= tol
    return ok


def check_full(arch, jpeg, batch, keep, seed):
    values = values_of(arch, True)
    model = build(arch, values, seed)
    tmp = keep or tempfile.mkdtemp(prefix='maxvit-full-')
    os.makedirs(tmp, exist_ok=True)
    w, inp, mod = (os.path.join(tmp, n) for n in ('W.safetensors', 'input.safetensors', 'M.vitm'))
    rc.save_safetensors(w, OrderedDict(model.state_dict()), metadata={'format': 'pt'})
    x = make_input(seed + 1, values['size'], batch)
    rc.save_safetensors(inp, OrderedDict(image=x))
    vitc, vitrun = tool('VITC', 'build/vitc'), tool('VITRUN', 'build/vitrun')
    spec = os.path.join(rc.REPO_ROOT, 'archs', arch['name'] + '.vit')
    run([vitc, 'compile', spec, '-o', mod])
    out = os.path.join(tmp, 'out.safetensors')
    run([vitrun, 'run', mod, '--weights', w, '--tensor', inp, '-o', out])
    ok = compare('tensor', out, outputs(model, x), TOL)
    if jpeg:
        xj, _ = rc.load_image_tensor(arch, model, values['size'], jpeg)
        outj = os.path.join(tmp, 'out_jpeg.safetensors')
        run([vitrun, 'run', mod, '--weights', w, jpeg, '-o', outj])
        ok &= compare('jpeg  ', outj, outputs(model, xj), TOL_JPEG)
    if not keep:
        shutil.rmtree(tmp)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archs', nargs='*', help='arch names (default: all)')
    ap.add_argument('--full', action='store_true', help='full-size check of the named archs instead')
    ap.add_argument('--jpeg', help='--full: also run this image through the eval transform')
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--keep', help='--full: keep the files in this directory')
    args = ap.parse_args()
    rc.set_determinism()
    names = args.archs or list(ARCHS)
    for n in names:
        if n not in ARCHS:
            sys.exit('unknown arch %s (known: %s)' % (n, ', '.join(ARCHS)))
    if args.full:
        ok = True
        for n in names:
            ok &= check_full(ARCHS[n], args.jpeg, args.batch, args.keep, args.seed)
        sys.exit(0 if ok else 1)
    for n in names:
        make_keys(ARCHS[n])
        make_golden(ARCHS[n])


if __name__ == '__main__':
    main()
