#!/usr/bin/env python3
"""Write tests/keys/<arch>.txt and tests/keys/<arch>.json for the full-size models.

<arch>.txt   one line per state-dict entry of the full-size model: "key<TAB>d0,d1,...";
             for OpenCLIP only the image tower (visual.*)
<arch>.json  the full model's pretrained-config preprocessing and architectural facts
             (norm eps, activation, tokens, pooling, layer scale, head / projection shape, ...)

No weights are loaded: the models are built with pretrained=False from the library configs.

Usage: make_keys.py [ARCH ...]   (default: all)
"""

import argparse
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

CHECKPOINT_NOTES = {
    'dinov2': ('timm-format checkpoints (hub id in "hub_id") hold exactly these keys. The original '
               'DINOv2 .pth files differ: they have mask_token, and the reg4 ones keep register_tokens '
               'and a pos_embed row for the class token; timm checkpoint_filter_fn converts them '
               '(drops mask_token, reg_token = register_tokens, cls_token += pos_embed[:, 0], '
               'pos_embed = pos_embed[:, 1:]).'),
    'clip': ('timm-format checkpoint. The same hub repo also holds the whole OpenCLIP state dict '
             '(visual.* names); timm checkpoint_filter_fn maps it (conv1 -> patch_embed.proj, '
             'ln_pre -> norm_pre, in_proj_ -> qkv., proj -> head.weight transposed, head.bias = 0).'),
    'openclip': ('OpenCLIP checkpoints hold the whole CLIP state dict (text tower, logit_scale, ...); '
                 'only the image tower keys (visual.*) are listed.'),
}


def shape_str(t):
    return ','.join(str(int(d)) for d in t.shape)


def full_timm(arch):
    timm = rc.import_timm()
    torch.manual_seed(0)
    model = timm.create_model(arch['source'], pretrained=False).eval()
    keys = [(k, v) for k, v in model.state_dict().items()]
    return model, keys, rc.timm_facts(model), model.pretrained_cfg.get('hf_hub_id')


def full_openclip(arch):
    oc = rc.import_open_clip()
    from open_clip.model import _build_vision_tower
    cfg = oc.get_model_config(arch['source'])
    torch.manual_seed(0)
    visual = _build_vision_tower(cfg['embed_dim'], cfg['vision_cfg'], cfg.get('quick_gelu', False)).eval()

    class _Holder(torch.nn.Module):
        def __init__(self, v):
            super().__init__()
            self.visual = v
    holder = _Holder(visual)
    keys = [(k, v) for k, v in holder.state_dict().items()]
    pc = oc.get_pretrained_cfg(*rc.openclip_pretrained(arch['source']))
    hub = pc.get('hf_hub', '').rstrip('/') or None
    return holder, keys, rc.openclip_facts(holder, cfg), hub


def make(arch):
    if arch['kind'] == 'timm':
        model, keys, facts, hub = full_timm(arch)
    else:
        model, keys, facts, hub = full_openclip(arch)
    os.makedirs(rc.KEYS_DIR, exist_ok=True)
    with open(os.path.join(rc.KEYS_DIR, arch['name'] + '.txt'), 'w') as f:
        for k, v in keys:
            f.write('%s\t%s\n' % (k, shape_str(v)))
    info = OrderedDict()
    info['arch'] = arch['name']
    info['library'] = arch['kind']
    info['model'] = arch['source']
    info['hub_id'] = hub
    info['values'] = OrderedDict((k, arch['full'][k]) for k in
                                 ('size', 'patch', 'dim', 'depth', 'heads', 'mlp', 'classes', 'proj',
                                  'pos_grid', 'reg') if k in arch['full'])
    info['preprocess'] = rc.pretrained_preprocess(arch)
    info['facts'] = facts
    info['num_params'] = int(sum(int(v.numel()) for _, v in keys))
    notes = list(arch['notes'])
    if arch['family'] in CHECKPOINT_NOTES:
        notes.append(CHECKPOINT_NOTES[arch['family']])
    if arch['family'] == 'dinov2':
        notes.append('pos_embed covers a %dx%d grid (%d px). At another input size timm resamples the grid '
                     'part with resample_abs_pos_embed (bicubic, antialias=True), see tests/golden/%s_resample.'
                     % (arch['full']['pos_grid'], arch['full']['pos_grid'], arch['full']['size'], arch['name']))
    if notes:
        info['notes'] = notes
    rc.write_json(os.path.join(rc.KEYS_DIR, arch['name'] + '.json'), info)
    print('%-32s %4d keys %12d params' % (arch['name'], len(keys), info['num_params']))


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
        make(rc.ARCHS[n])


if __name__ == '__main__':
    main()
