#!/usr/bin/env python3
"""Write the small reference goldens under tests/golden/<arch>/.

For each architecture a small model of the same family (same flags, tiny sizes) is built
with timm or OpenCLIP, every parameter is overwritten with seeded values, and

  weights.safetensors   the model's state dict with its real key names (F32)
  input.safetensors     "image" [2, 3, H, W], seeded randn
  expected.safetensors  "repr" [2, D] (pre-logits) and, when the model has a head or
                        projection, "logits" [2, C]
  config.json           spec overrides ("set"), sizes, the full model's preprocessing
  jpeg.safetensors      (one arch per family) "repr"/"logits" for an image file from
                        examples/images/ through the library's own eval transform

DINOv2 archs also get <arch>_resample/: the checkpoint's position grid differs from the
run size and the library resamples pos_embed when loading.

Usage: make_goldens.py [ARCH ...]   (default: all)
"""

import argparse
import hashlib
import math
import os
import sys
import tempfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

BATCH = 2
JPEG_IMAGES = {
    'deit': 'chelsea.jpg',
    'dino': 'rocket.jpg',
    'dinov2': 'chelsea.jpg',
    'clip': 'chelsea.jpg',
    'openclip': 'rocket.jpg',
}
SPEC_KEYS = ('size', 'patch', 'dim', 'depth', 'heads', 'mlp', 'classes', 'proj', 'pos_grid', 'reg')


def spec_set(arch, values):
    """Every spec value the small model has that differs from the full model."""
    out = OrderedDict()
    for k in SPEC_KEYS:
        if k in values and values[k] != arch['full'].get(k):
            out[k] = values[k]
    return out


def rel(path):
    return os.path.relpath(path, rc.REPO_ROOT).replace(os.sep, '/')


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_input(seed, size):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, 3, size, size, generator=g, dtype=torch.float32)


def build_tiny(arch, values, seed):
    torch.manual_seed(seed)
    if arch['kind'] == 'timm':
        model = rc.build_timm(arch, values)
        cfg = None
    else:
        model, cfg = rc.build_openclip(arch, values, tiny_text=True)
    rc.perturb(model, seed)
    return model, cfg


def base_config(arch, values, full_model_pre):
    cfg = OrderedDict()
    cfg['arch'] = arch['name']
    cfg['library'] = arch['kind']
    cfg['model'] = arch['source']
    cfg['set'] = spec_set(arch, values)
    cfg['size'] = values['size']
    cfg['batch'] = BATCH
    cfg['values'] = OrderedDict((k, values[k]) for k in SPEC_KEYS if k in values)
    cfg['full'] = OrderedDict((k, arch['full'][k]) for k in SPEC_KEYS if k in arch['full'])
    cfg['preprocess'] = full_model_pre
    cfg['tolerance'] = 1e-4
    cfg['reference'] = 'computed in float64, stored as F32; tolerance is max|a-b| / max|b| per output'
    return cfg


def write_golden(outdir, model, x, outputs, cfg):
    os.makedirs(outdir, exist_ok=True)
    sd = OrderedDict((k, v) for k, v in model.state_dict().items())
    rc.save_safetensors(os.path.join(outdir, 'weights.safetensors'), sd, metadata={'format': 'pt'})
    rc.save_safetensors(os.path.join(outdir, 'input.safetensors'), OrderedDict(image=x))
    rc.save_safetensors(os.path.join(outdir, 'expected.safetensors'), outputs)
    cfg['outputs'] = OrderedDict((k, list(v.shape)) for k, v in outputs.items())
    rc.write_json(os.path.join(outdir, 'config.json'), cfg)


def jpeg_golden(arch, model, values, outdir, cfg):
    name = JPEG_IMAGES[arch['family']]
    path = os.path.join(rc.IMAGES_DIR, name)
    if not os.path.exists(path):
        sys.exit('missing sample image %s' % rel(path))
    x, tcfg = rc.load_image_tensor(arch, model, values['size'], path)
    outputs = rc.model_outputs(arch, model, x)
    rc.save_safetensors(os.path.join(outdir, 'jpeg.safetensors'), outputs)
    j = OrderedDict()
    j['image'] = rel(path)
    j['image_sha256'] = sha256(path)
    pre = OrderedDict()
    pre['input_size'] = list(tcfg['input_size'])
    pre['crop_pct'] = tcfg.get('crop_pct')
    pre['crop_mode'] = tcfg.get('crop_mode', 'center')
    pre['interpolation'] = tcfg.get('interpolation')
    pre['mean'] = [float(v) for v in tcfg['mean']]
    pre['std'] = [float(v) for v in tcfg['std']]
    size = values['size']
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
    j['preprocess'] = pre
    j['transform'] = ('timm.data.create_transform(**resolve_data_config({"input_size": (3, %d, %d)}, model=model))'
                      % (size, size) if arch['kind'] == 'timm' else
                      'open_clip.image_transform(%d, is_train=False, mean, std, resize_mode, interpolation)' % size)
    j['outputs'] = OrderedDict((k, list(v.shape)) for k, v in outputs.items())
    j['tolerance'] = 2e-3
    cfg['jpeg'] = j


def make_arch(arch):
    name = arch['name']
    values = rc.tiny_values(arch)
    seed = rc.arch_seed(name)
    model, oc_cfg = build_tiny(arch, values, seed)
    x = make_input(seed + 1, values['size'])
    outputs = rc.model_outputs(arch, model, x)
    outdir = os.path.join(rc.GOLDEN_DIR, name)
    cfg = base_config(arch, values, rc.pretrained_preprocess(arch))
    if arch['kind'] == 'openclip':
        cfg['weights_note'] = ('whole CLIP state dict as an OpenCLIP checkpoint holds it; the text tower '
                               'is shrunk (%s) to keep the file small; the image tower is visual.*'
                               % ', '.join('%s=%s' % kv for kv in rc.TINY_TEXT_CFG.items()))
    for n in arch['notes']:
        cfg.setdefault('notes', []).append(n)
    if arch['jpeg']:
        jpeg_golden(arch, model, values, outdir, cfg)
    write_golden(outdir, model, x, outputs, cfg)
    print('%-34s %s' % (name, ' '.join('%s=%s' % kv for kv in cfg['set'].items())))
    if arch['resample']:
        make_resample(arch)


def make_resample(arch):
    """Checkpoint made at pos_grid*patch px, model run at `size` px: timm's loader
    (checkpoint_filter_fn) resamples pos_embed with resample_abs_pos_embed (bicubic, antialias)."""
    timm = rc.import_timm()
    name = arch['name'] + '_resample'
    values = rc.tiny_values(arch)
    values.update(arch['resample'])
    seed = rc.arch_seed(name)
    ckpt_model, _ = build_tiny(arch, values, seed)  # built at pos_grid * patch
    sd = OrderedDict((k, v.clone()) for k, v in ckpt_model.state_dict().items())
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, 'ckpt.pth')
        torch.save(sd, f)
        kw = rc.timm_kwargs(values)
        kw['img_size'] = values['size']
        model = timm.create_model(arch['source'], pretrained=True,
                                  pretrained_cfg_overlay=dict(file=f), **kw).eval()
    # the same through dynamic_img_size (pos_embed resampled at run time)
    dyn = timm.create_model(arch['source'], pretrained=False, dynamic_img_size=True,
                            **rc.timm_kwargs(values)).eval()
    dyn.load_state_dict(sd)
    x = make_input(seed + 1, values['size'])
    outputs = rc.model_outputs(arch, model, x)
    dyn_out = rc.model_outputs(arch, dyn, x)
    for k in outputs:
        err = (outputs[k] - dyn_out[k]).abs().max().item()
        assert err < 1e-5, 'resample paths disagree (%s: %g)' % (k, err)
    outdir = os.path.join(rc.GOLDEN_DIR, name)
    os.makedirs(outdir, exist_ok=True)
    rc.save_safetensors(os.path.join(outdir, 'weights.safetensors'), sd, metadata={'format': 'pt'})
    rc.save_safetensors(os.path.join(outdir, 'input.safetensors'), OrderedDict(image=x))
    rc.save_safetensors(os.path.join(outdir, 'expected.safetensors'), outputs)
    cfg = base_config(arch, values, rc.pretrained_preprocess(arch))
    cfg['arch'] = arch['name']
    cfg['golden'] = name
    npre = 0 if ckpt_model.no_embed_class else ckpt_model.num_prefix_tokens
    cfg['resample'] = OrderedDict([
        ('from_grid', values['pos_grid']),
        ('to_grid', values['size'] // values['patch']),
        ('prefix_tokens_in_pos_embed', npre),
        ('method', 'timm resample_abs_pos_embed: F.interpolate(bicubic, align_corners=False, '
                   'antialias=True) on the grid part of pos_embed, prefix entries kept as is; done in '
                   'float32 when the checkpoint is loaded (timm checkpoint_filter_fn)'),
    ])
    cfg['outputs'] = OrderedDict((k, list(v.shape)) for k, v in outputs.items())
    rc.write_json(os.path.join(outdir, 'config.json'), cfg)
    print('%-34s %s' % (name, ' '.join('%s=%s' % kv for kv in cfg['set'].items())))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archs', nargs='*', help='arch names (default: all)')
    args = ap.parse_args()
    rc.set_determinism()
    names = args.archs or list(rc.ARCHS)
    for n in names:
        if n not in rc.ARCHS:
            sys.exit('unknown arch %s (known: %s)' % (n, ', '.join(rc.ARCHS)))
    for n in names:
        make_arch(rc.ARCHS[n])


if __name__ == '__main__':
    main()
