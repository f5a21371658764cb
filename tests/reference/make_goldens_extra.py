#!/usr/bin/env python3
"""Key lists, small goldens and full-size checks for the timm families beyond the plain
VisionTransformer of make_goldens.py: BEiT (timm.models.beit.Beit) and SigLIP's image tower
(timm VisionTransformer with class_token=False, global_pool='map', i.e. AttentionPoolLatent).

  make_goldens_extra.py keys   [ARCH ...]   tests/keys/<arch>.txt (+ .json with facts)
  make_goldens_extra.py golden [ARCH ...]   the small golden of each arch (layout of make_goldens.py)
  make_goldens_extra.py full ARCH [--jpeg IMAGE] [--batch N] [--keep DIR]
                                            full-size seeded model vs vitc/vitrun (as check_full.py)

Everything not stated here is as in make_goldens.py / check_full.py, whose helpers are used:
the small model is built at pos_grid * patch px with seeded, perturbed weights
(refcommon.perturb), the input is seeded randn, references are computed in float64.

Additions:
- SigLIP's `attn_pool.latent` is re-drawn as 0.5 * randn (seed + 7), like the other learned
  tokens: with perturb's randn / sqrt(fan_in) the pool's query is so small that its attention
  is almost uniform, which would not test it.
- SigLIP also outputs `tokens` (forward_features: every token after the final norm,
  [N, tokens, dim]), the representation that is affine in the residual stream.
- The SigLIP golden goes to tests/golden/ like the others: its `repr` (the attention pool's
  output) reads the stream through a softmax of its keys; the decomposition freezes those
  probabilities, as it does inside attention branches, so test_decompose covers it too.

Usage: make_goldens_extra.py keys|golden [ARCH ...]  (default: all of this script's archs)
"""

import argparse
import copy
import os
import shutil
import sys
import tempfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402
import make_goldens as mg  # noqa: E402

EXTRA = OrderedDict()


def _extra(name, source, family, full, tiny, golden_dir='golden', extra_outputs=()):
    rc._arch(name, 'timm', source, family, full, tiny, jpeg=True)
    EXTRA[name] = dict(golden_dir=golden_dir, extra_outputs=tuple(extra_outputs))


_extra('beit_base_patch16_224', 'beit_base_patch16_224.in22k_ft_in22k_in1k', 'beit',
       dict(size=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=1000, pos_grid=14),
       dict(size=64, dim=48, depth=2, heads=3, mlp=192, classes=10, pos_grid=4))
_extra('vit_base_patch16_siglip_224', 'vit_base_patch16_siglip_224.v2_webli', 'siglip',
       dict(size=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=0, pos_grid=14),
       dict(size=48, dim=48, depth=2, heads=3, mlp=192, pos_grid=3),
       golden_dir='golden', extra_outputs=('tokens',))

mg.JPEG_IMAGES.update(beit='chelsea.jpg', siglip='rocket.jpg')


@torch.no_grad()
def adjust(model, seed):
    """What this script sets beyond refcommon.perturb (see the module docstring)."""
    pool = getattr(model, 'attn_pool', None)
    if pool is not None and hasattr(pool, 'latent'):
        g = torch.Generator().manual_seed(seed + 7)
        pool.latent.copy_(0.5 * torch.randn(tuple(pool.latent.shape), generator=g, dtype=torch.float32))
    return model


@torch.no_grad()
def outputs(arch, model, x):
    out = rc.model_outputs(arch, model, x)
    if 'tokens' in EXTRA[arch['name']]['extra_outputs']:
        m = copy.deepcopy(model).double().eval()
        out['tokens'] = m.forward_features(x.double())
    return out


# --------------------------------------------------------------------------------------------
# key lists
# --------------------------------------------------------------------------------------------

def facts(model):
    f = OrderedDict()
    b0 = model.blocks[0]
    f['class_token'] = getattr(model, 'cls_token', None) is not None
    f['num_prefix_tokens'] = int(model.num_prefix_tokens)
    pe = getattr(model, 'pos_embed', None)
    f['pos_embed_shape'] = list(pe.shape) if pe is not None else None
    f['patch_embed_bias'] = model.patch_embed.proj.bias is not None
    f['final_norm'] = not rc._is_identity(getattr(model, 'norm', None))
    f['fc_norm'] = not rc._is_identity(getattr(model, 'fc_norm', None))
    f['global_pool'] = model.global_pool
    f['act'] = rc._act_name(b0.mlp.act)
    f['mlp_hidden'] = int(b0.mlp.fc1.out_features)
    f['norm_eps'] = rc._norm_eps(model)
    f['attn_scale'] = 'head_dim ** -0.5'
    if hasattr(b0, 'gamma_1'):  # BEiT
        attn = b0.attn
        f['block'] = 'pre-LN: x = x + gamma_1 * attn(norm1(x)); x = x + gamma_2 * mlp(norm2(x))'
        f['layer_scale'] = b0.gamma_1 is not None
        f['layer_scale_init'] = b0.init_values
        f['qkv_bias'] = ('qkv.weight has no bias; bias = cat(q_bias, zeros (k_bias, a non-persistent '
                         'buffer), v_bias)') if attn.q_bias is not None else None
        f['qkv_layout'] = 'qkv.weight rows = [q | k | v], each split into heads of head_dim'
        f['rel_pos_bias'] = OrderedDict([
            ('table', list(attn.relative_position_bias_table.shape)),
            ('window', list(attn.window_size)),
            ('rows', '(2*Wh-1)*(2*Ww-1) patch offsets, then 3 rows: cls->token, token->cls, cls->cls'),
            ('index', 'gen_relative_position_index(window) [N+1, N+1] (query, key); a non-persistent '
                      'buffer: not in the state dict'),
            ('use', 'scores[h, i, j] = q_i . k_j * scale + table[index[i, j], h]'),
            ('shared', getattr(model, 'rel_pos_bias', None) is not None),
        ])
        f['repr'] = 'forward_head(forward_features(x), pre_logits=True) = fc_norm(mean of patch tokens)'
    else:  # SigLIP
        p = model.attn_pool
        f['block'] = 'pre-LN: x = x + attn(norm1(x)); x = x + mlp(norm2(x))'
        f['qkv_bias'] = b0.attn.qkv.bias is not None
        f['attn_pool'] = OrderedDict([
            ('class', type(p).__name__),
            ('latent', list(p.latent.shape)),
            ('heads', int(p.num_heads)),
            ('q', list(p.q.weight.shape)),
            ('kv', list(p.kv.weight.shape) + ['rows = [k | v], each split into heads']),
            ('mlp_hidden', int(p.mlp.fc1.out_features)),
            ('pool', p.pool),
            ('forward', 'o = proj(softmax(q(latent) . k(x) * scale) v(x)); o = o + mlp(norm(o)); '
                        'x = the final-normed tokens'),
        ])
        f['repr'] = 'forward_head(forward_features(x), pre_logits=True) = attn_pool(norm(tokens))'
        f['tokens'] = 'forward_features(x): every token after the final norm'
    head = model.head
    f['head'] = (OrderedDict([('weight', list(head.weight.shape)), ('bias', head.bias is not None)])
                 if isinstance(head, torch.nn.Linear) else None)
    f['logits'] = 'model(x) = head(repr)' if isinstance(head, torch.nn.Linear) else None
    return f


NOTES = {
    'beit': ('The hub checkpoint was written when relative_position_index was still a persistent '
             'buffer, so it may hold blocks.N.attn.relative_position_index (int64); timm\'s '
             'checkpoint_filter_fn drops it and the spec declares it unused (it computes the '
             'index). Other input sizes: timm resizes the bias tables (resize_rel_pos_bias_table); '
             'the spec accepts only the stored window.'),
    'siglip': ('num_classes = 0 in the pretrained config: no head; repr is the attention pool\'s '
               'output.'),
}


def make_keys(arch):
    timm = rc.import_timm()
    torch.manual_seed(0)
    model = timm.create_model(arch['source'], pretrained=False).eval()
    sd = model.state_dict()
    os.makedirs(rc.KEYS_DIR, exist_ok=True)
    with open(os.path.join(rc.KEYS_DIR, arch['name'] + '.txt'), 'w') as f:
        for k, v in sd.items():
            f.write('%s\t%s\n' % (k, ','.join(str(int(d)) for d in v.shape)))
    info = OrderedDict()
    info['arch'] = arch['name']
    info['library'] = 'timm'
    info['model'] = arch['source']
    info['hub_id'] = model.pretrained_cfg.get('hf_hub_id')
    info['values'] = OrderedDict((k, arch['full'][k]) for k in mg.SPEC_KEYS if k in arch['full'])
    info['preprocess'] = rc.pretrained_preprocess(arch)
    info['facts'] = facts(model)
    info['num_params'] = int(sum(int(v.numel()) for v in sd.values()))
    info['notes'] = [NOTES[arch['family']]]
    rc.write_json(os.path.join(rc.KEYS_DIR, arch['name'] + '.json'), info)
    print('%-32s %4d keys %12d params' % (arch['name'], len(sd), info['num_params']))


# --------------------------------------------------------------------------------------------
# small goldens
# --------------------------------------------------------------------------------------------

def make_golden(arch):
    name = arch['name']
    values = rc.tiny_values(arch)
    seed = rc.arch_seed(name)
    model, _ = mg.build_tiny(arch, values, seed)
    adjust(model, seed)
    x = mg.make_input(seed + 1, values['size'])
    outs = outputs(arch, model, x)
    outdir = os.path.join(rc.REPO_ROOT, 'tests', EXTRA[name]['golden_dir'], name)
    cfg = mg.base_config(arch, values, rc.pretrained_preprocess(arch))
    if EXTRA[name]['extra_outputs']:
        cfg['extra_outputs'] = OrderedDict(
            tokens='forward_features(x): every token after the final norm (affine in the residual stream)')
    cfg['weights_note'] = ('refcommon.perturb, then attn_pool.latent = 0.5 * randn (make_goldens_extra.py)'
                           if hasattr(model, 'attn_pool') else 'refcommon.perturb')
    if arch['jpeg']:
        mg.jpeg_golden(arch, model, values, outdir, cfg)
        if EXTRA[name]['extra_outputs']:
            xj, _ = rc.load_image_tensor(arch, model, values['size'],
                                         os.path.join(rc.IMAGES_DIR, mg.JPEG_IMAGES[arch['family']]))
            oj = outputs(arch, model, xj)
            rc.save_safetensors(os.path.join(outdir, 'jpeg.safetensors'), oj)
            cfg['jpeg']['outputs'] = OrderedDict((k, list(v.shape)) for k, v in oj.items())
    mg.write_golden(outdir, model, x, outs, cfg)
    print('%-34s %-16s %s' % (name, EXTRA[name]['golden_dir'], ' '.join('%s=%s' % kv for kv in cfg['set'].items())))


# --------------------------------------------------------------------------------------------
# full size
# --------------------------------------------------------------------------------------------

def full_check(arch, batch, keep, jpeg):
    import check_full as cf
    vitc = cf.tool('VITC', os.path.join('build', 'vitc'))
    vitrun = cf.tool('VITRUN', os.path.join('build', 'vitrun'))
    spec = os.path.join(rc.REPO_ROOT, 'archs', arch['name'] + '.vit')
    seed = rc.arch_seed(arch['name'], salt=2)
    size = arch['full']['size']
    work = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix='check_full_')
    os.makedirs(work, exist_ok=True)
    try:
        print('building %s (%s) at %d px, seed %d' % (arch['name'], arch['source'], size, seed), flush=True)
        model = adjust(cf.build_full(arch, seed), seed)
        wpath = os.path.join(work, 'W.safetensors')
        ipath = os.path.join(work, 'input.safetensors')
        rc.save_safetensors(wpath, OrderedDict(model.state_dict().items()), metadata={'format': 'pt'})
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(batch, 3, size, size, generator=g, dtype=torch.float32)
        rc.save_safetensors(ipath, OrderedDict(image=x))
        expected = outputs(arch, model, x)
        mpath = os.path.join(work, 'M.vitm')
        cf.run([vitc, 'compile', spec, '-o', mpath])
        opath = os.path.join(work, 'out.safetensors')
        cf.run([vitrun, 'run', mpath, '--weights', wpath, '--tensor', ipath, '-o', opath])
        ok = cf.compare('tensor', opath, expected, cf.TOL)
        if jpeg:
            xj, _ = rc.load_image_tensor(arch, model, size, jpeg)
            expected_j = outputs(arch, model, xj)
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
    ap.add_argument('what', choices=('keys', 'golden', 'full'))
    ap.add_argument('archs', nargs='*', help='arch names (default: all of this script\'s)')
    ap.add_argument('--batch', type=int, default=2, help='full: batch of the random input (default 2)')
    ap.add_argument('--keep', metavar='DIR', help='full: work in DIR and keep the files')
    ap.add_argument('--jpeg', metavar='IMAGE', help='full: also check vitrun on an image file')
    args = ap.parse_args()
    rc.set_determinism()
    names = args.archs or list(EXTRA)
    for n in names:
        if n not in EXTRA:
            sys.exit('unknown arch %s (known: %s)' % (n, ', '.join(EXTRA)))
    if args.what == 'full':
        ok = True
        for n in names:
            ok &= full_check(rc.ARCHS[n], args.batch, args.keep, args.jpeg)
        sys.exit(0 if ok else 1)
    for n in names:
        (make_keys if args.what == 'keys' else make_golden)(rc.ARCHS[n])


if __name__ == '__main__':
    main()
