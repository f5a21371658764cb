#!/usr/bin/env python3
"""Swin Transformer references (timm swin_transformer.SwinTransformer).

  make_goldens_swin.py [ARCH ...]            goldens tests/golden/<arch>/ (small models) and
                                             key lists tests/keys/<arch>.txt / .json (full size)
  make_goldens_swin.py --full ARCH [--jpeg IMAGE] [--batch N] [--keep DIR]
                                             check vitc / vitrun on the full-size model with
                                             seeded weights, as check_full.py does for the ViTs

The spec values of a Swin model (archs/swin_*.vit config) are size, patch, dim, window,
classes and the per-stage depth0..depth3, heads0..heads3; the small goldens set only the
values that differ from the full model. Weights, inputs, outputs and config.json follow
make_goldens.py exactly (refcommon.perturb, float64 reference, F32 storage).

Usage needs what refcommon.py needs (README.md): torch and a timm checkout on PYTHONPATH.
"""

import argparse
import math
import os
import shutil
import sys
import tempfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402
import make_goldens as mg  # noqa: E402
import check_full as cf  # noqa: E402

SPEC_KEYS = ('size', 'patch', 'dim', 'window', 'classes',
             'depth0', 'depth1', 'depth2', 'depth3', 'heads0', 'heads1', 'heads2', 'heads3')

ARCHS = OrderedDict()


def _arch(name, source, full, tiny, jpeg=None, notes=()):
    ARCHS[name] = dict(name=name, kind='timm', source=source, family='swin', full=full, tiny=tiny,
                       jpeg=jpeg, resample=None, notes=list(notes))


def _values(size, patch, dim, window, classes, depths, heads):
    v = OrderedDict(size=size, patch=patch, dim=dim, window=window, classes=classes)
    for i in range(4):
        v['depth%d' % i] = depths[i]
    for i in range(4):
        v['heads%d' % i] = heads[i]
    return v


# Small configs: each keeps shifted windows (masked) and patch merging in use.
#  tiny:  96 px / patch 4 = 24 -> 24, 12, 6, 3; window 3, shifted (by 1) blocks in stages 0 and
#         2; the last stage is one 3x3 window without shift (as 7x7 at 224 px)
#  small: 56 px / patch 1 = 56 -> 56, 28, 14, 7; window 7: the full model's window layout (8x8,
#         4x4, 2x2, 1x1 windows), a shifted (by 3) block in stage 1
#  base:  64 px / patch 4 = 16 -> 16, 8, 4, 2; window 3: grids padded to whole windows (18, 9, 6),
#         a shifted block on the padded 9x9 grid of stage 1; the last stage is one 2x2 window, its
#         second block unshifted
_arch('swin_tiny_patch4_window7_224', 'swin_tiny_patch4_window7_224.ms_in1k',
      _values(224, 4, 96, 7, 1000, (2, 2, 6, 2), (3, 6, 12, 24)),
      _values(96, 4, 8, 3, 10, (2, 1, 2, 1), (1, 2, 2, 4)), jpeg='chelsea.jpg')
_arch('swin_small_patch4_window7_224', 'swin_small_patch4_window7_224.ms_in22k_ft_in1k',
      _values(224, 4, 96, 7, 1000, (2, 2, 18, 2), (3, 6, 12, 24)),
      _values(56, 1, 8, 7, 10, (1, 2, 1, 1), (2, 2, 4, 4)))
_arch('swin_base_patch4_window7_224', 'swin_base_patch4_window7_224.ms_in22k_ft_in1k',
      _values(224, 4, 128, 7, 1000, (2, 2, 18, 2), (4, 8, 16, 32)),
      _values(64, 4, 8, 3, 10, (1, 2, 1, 2), (2, 2, 4, 8)))


def tiny_values(arch):
    v = OrderedDict(arch['full'])
    v.update(arch['tiny'])
    return v


def timm_kwargs(v):
    return dict(img_size=v['size'], patch_size=v['patch'], embed_dim=v['dim'], window_size=v['window'],
                num_classes=v['classes'], depths=tuple(v['depth%d' % i] for i in range(4)),
                num_heads=tuple(v['heads%d' % i] for i in range(4)))


def build(arch, values, seed):
    timm = rc.import_timm()
    torch.manual_seed(seed)
    model = timm.create_model(arch['source'], pretrained=False, **timm_kwargs(values)).eval()
    rc.perturb(model, seed)
    return model


def spec_set(arch, values):
    return OrderedDict((k, values[k]) for k in SPEC_KEYS if values[k] != arch['full'][k])


def layout(model):
    """Per stage: block grid, window, shifts (what timm built)."""
    out = []
    for s, stage in enumerate(model.layers):
        b0 = stage.blocks[0]
        out.append(OrderedDict([
            ('stage', s),
            ('grid', list(b0.input_resolution)),
            ('window', list(b0.window_size)),
            ('shifts', [list(b.shift_size) for b in stage.blocks]),
            ('dim', int(b0.dim)),
            ('heads', int(b0.attn.num_heads)),
        ]))
    return out


def make_golden(arch):
    name = arch['name']
    values = tiny_values(arch)
    seed = rc.arch_seed(name)
    model = build(arch, values, seed)
    x = mg.make_input(seed + 1, values['size'])
    outputs = rc.model_outputs(arch, model, x)
    outdir = os.path.join(rc.GOLDEN_DIR, name)
    cfg = OrderedDict()
    cfg['arch'] = name
    cfg['library'] = 'timm'
    cfg['model'] = arch['source']
    cfg['set'] = spec_set(arch, values)
    cfg['size'] = values['size']
    cfg['batch'] = mg.BATCH
    cfg['values'] = OrderedDict((k, values[k]) for k in SPEC_KEYS)
    cfg['full'] = OrderedDict((k, arch['full'][k]) for k in SPEC_KEYS)
    cfg['layout'] = layout(model)
    cfg['preprocess'] = rc.pretrained_preprocess(arch)
    cfg['tolerance'] = 1e-4
    cfg['reference'] = 'computed in float64, stored as F32; tolerance is max|a-b| / max|b| per output'
    if arch['jpeg']:
        jpeg_golden(arch, model, values, outdir, cfg)
    mg.write_golden(outdir, model, x, outputs, cfg)
    print('%-34s %s' % (name, ' '.join('%s=%s' % kv for kv in cfg['set'].items())))


def jpeg_golden(arch, model, values, outdir, cfg):
    path = os.path.join(rc.IMAGES_DIR, arch['jpeg'])
    x, tcfg = rc.load_image_tensor(arch, model, values['size'], path)
    outputs = rc.model_outputs(arch, model, x)
    os.makedirs(outdir, exist_ok=True)
    rc.save_safetensors(os.path.join(outdir, 'jpeg.safetensors'), outputs)
    size = values['size']
    pre = OrderedDict()
    pre['input_size'] = list(tcfg['input_size'])
    pre['crop_pct'] = tcfg.get('crop_pct')
    pre['crop_mode'] = tcfg.get('crop_mode', 'center')
    pre['interpolation'] = tcfg.get('interpolation')
    pre['mean'] = [float(v) for v in tcfg['mean']]
    pre['std'] = [float(v) for v in tcfg['std']]
    pre['resize_shorter_to'] = math.floor(size / (tcfg.get('crop_pct') or 1.0))
    pre['center_crop'] = size
    from PIL import Image
    with Image.open(path) as im:
        w, h = im.size
    r = pre['resize_shorter_to']
    nw, nh = (r, int(r * h / w)) if w <= h else (int(r * w / h), r)
    pre['image_size'] = [w, h]
    pre['resized_to'] = [nw, nh]
    pre['crop_left_top'] = [int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))]
    j = OrderedDict()
    j['image'] = mg.rel(path)
    j['image_sha256'] = mg.sha256(path)
    j['preprocess'] = pre
    j['transform'] = ('timm.data.create_transform(**resolve_data_config({"input_size": (3, %d, %d)}, model=model))'
                      % (size, size))
    j['outputs'] = OrderedDict((k, list(v.shape)) for k, v in outputs.items())
    j['tolerance'] = 2e-3
    cfg['jpeg'] = j


def make_keys(arch):
    timm = rc.import_timm()
    torch.manual_seed(0)
    model = timm.create_model(arch['source'], pretrained=False).eval()
    keys = list(model.state_dict().items())
    os.makedirs(rc.KEYS_DIR, exist_ok=True)
    with open(os.path.join(rc.KEYS_DIR, arch['name'] + '.txt'), 'w') as f:
        for k, v in keys:
            f.write('%s\t%s\n' % (k, ','.join(str(int(d)) for d in v.shape)))
    b0 = model.layers[0].blocks[0]
    facts = OrderedDict()
    facts['layout'] = layout(model)
    facts['block'] = ('pre-LN: x = x + reverse(attn(partition(pad(roll(norm1(x), -shift))))); '
                      'x = x + mlp(norm2(x))')
    facts['attn'] = ('per window: softmax(q k^T * head_dim^-0.5 + relative_position_bias_table[index] '
                     '(+ mask -100 across shifted regions)) v, then proj')
    facts['qkv_bias'] = b0.attn.qkv.bias is not None
    facts['qkv_layout'] = 'qkv.weight rows = [q | k | v], each split into heads of head_dim'
    facts['act'] = rc._act_name(b0.mlp.act)
    facts['mlp_hidden'] = int(b0.mlp.fc1.out_features)
    facts['patch_merging'] = ('pad to even, 2x2 neighbourhood flattened as (dx, dy, C) major to minor, '
                              'downsample.norm (4C), downsample.reduction (4C -> 2C, no bias); at the '
                              'start of stages 1..3 (layers.N.downsample)')
    facts['norm_eps'] = rc._norm_eps(model)
    facts['buffers'] = ('relative_position_index and attn_mask are non-persistent (not in the state '
                        'dict); checkpoints saved by older timm versions hold them: the spec declares '
                        'them unused')
    facts['repr'] = 'forward_head(forward_features(x), pre_logits=True): final norm, mean over the grid'
    facts['logits'] = 'head.fc(repr)'
    info = OrderedDict()
    info['arch'] = arch['name']
    info['library'] = 'timm'
    info['model'] = arch['source']
    info['hub_id'] = model.pretrained_cfg.get('hf_hub_id')
    info['values'] = OrderedDict((k, arch['full'][k]) for k in SPEC_KEYS)
    info['preprocess'] = rc.pretrained_preprocess(arch)
    info['facts'] = facts
    info['num_params'] = int(sum(int(v.numel()) for _, v in keys))
    rc.write_json(os.path.join(rc.KEYS_DIR, arch['name'] + '.json'), info)
    print('%-34s %4d keys %12d params' % (arch['name'], len(keys), info['num_params']))


def check_full(arch, jpeg=None, batch=2, keep=None):
    vitc = cf.tool('VITC', os.path.join('build', 'vitc'))
    vitrun = cf.tool('VITRUN', os.path.join('build', 'vitrun'))
    spec = os.path.join(rc.REPO_ROOT, 'archs', arch['name'] + '.vit')
    seed = rc.arch_seed(arch['name'], salt=2)
    size = arch['full']['size']
    work = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix='check_full_')
    os.makedirs(work, exist_ok=True)
    try:
        print('building %s (%s) at %d px, seed %d' % (arch['name'], arch['source'], size, seed), flush=True)
        model = build(arch, arch['full'], seed)
        wpath = os.path.join(work, 'W.safetensors')
        ipath = os.path.join(work, 'input.safetensors')
        rc.save_safetensors(wpath, OrderedDict(model.state_dict().items()), metadata={'format': 'pt'})
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(batch, 3, size, size, generator=g, dtype=torch.float32)
        rc.save_safetensors(ipath, OrderedDict(image=x))
        expected = rc.model_outputs(arch, model, x)
        mpath = os.path.join(work, 'M.vitm')
        cf.run([vitc, 'compile', spec, '-o', mpath])
        opath = os.path.join(work, 'out.safetensors')
        cf.run([vitrun, 'run', mpath, '--weights', wpath, '--tensor', ipath, '-o', opath])
        ok = cf.compare('tensor', opath, expected, cf.TOL)
        if jpeg:
            xj, _ = rc.load_image_tensor(arch, model, size, jpeg)
            expected_j = rc.model_outputs(arch, model, xj)
            jpath = os.path.join(work, 'out_jpeg.safetensors')
            cf.run([vitrun, 'run', mpath, '--weights', wpath, os.path.abspath(jpeg), '-o', jpath])
            ok &= cf.compare('jpeg  ', jpath, expected_j, cf.TOL_JPEG)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print('PASS' if ok else 'FAIL')
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archs', nargs='*', help='arch names (default: all): goldens and key lists')
    ap.add_argument('--full', metavar='ARCH', help='full-size check of vitc / vitrun on ARCH instead')
    ap.add_argument('--jpeg', metavar='IMAGE', help='with --full: also run vitrun on an image file')
    ap.add_argument('--batch', type=int, default=2, help='with --full: batch of the random input')
    ap.add_argument('--keep', metavar='DIR', help='with --full: work in DIR and keep the files')
    args = ap.parse_args()
    rc.set_determinism()
    names = [args.full] if args.full else (args.archs or list(ARCHS))
    for n in names:
        if n not in ARCHS:
            sys.exit('unknown arch %s (known: %s)' % (n, ', '.join(ARCHS)))
    if args.full:
        sys.exit(0 if check_full(ARCHS[args.full], args.jpeg, args.batch, args.keep) else 1)
    for n in names:
        make_keys(ARCHS[n])
        make_golden(ARCHS[n])


if __name__ == '__main__':
    main()
