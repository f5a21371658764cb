#!/usr/bin/env python3
"""Write reference decomposition goldens under tests/golden_decomp/<arch>/<mode>_<R|E>/.

The decomposition of the representation z (class token after the final norm) into
init + per-head (optionally per-head-per-key-token) attention + per-block MLP
contributions is computed by the paper's own code (SriramB-98/vit-decompose:
helpers/linear_decompose.py `decompose`, helpers/decompose_utils.py `head_outputs`,
helpers/model_utils.py `TimmVitModel`) running on the timm that repository vendors.
Neither is part of this project: put a checkout of that repository on PYTHONPATH,
first, so that `import helpers.linear_decompose` and `import timm` resolve to it:

    export PYTHONPATH=<vit-decompose checkout>
    python3 tests/reference/make_decomp_goldens.py [ARCH ...]

The weights are tests/golden/<arch>/weights.safetensors and the image is the first
image of tests/golden/<arch>/input.safetensors, so the model is the one of the forward
goldens (checked against tests/golden/<arch>/expected.safetensors).

Pairings:
  R  the reference code unmodified (its LayerNorm rule: unbiased std, eps 1e-5)
  E  the same with only its LayerNorm rule replaced at run time by one using the
     model's own eps and biased variance (so the contributions sum to z exactly)

Every result is also recomputed independently from the model's modules with the
conventions written down in tests/reference/README.md and must agree.
Everything runs in float64, single-threaded; files are stored as F32.
"""

import argparse
import contextlib
import copy
import json
import os
import sys
import types
from collections import OrderedDict

os.environ.setdefault('TIMM_FUSED_ATTN', '0')

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

OUT_DIR = os.path.join(rc.REPO_ROOT, 'tests', 'golden_decomp')
ARCH_NAMES = ('deit_tiny_patch16_224', 'vit_small_patch16_224_dino', 'vit_small_patch14_dinov2',
              'vit_small_patch14_reg4_dinov2', 'vit_base_patch16_clip_224')
AGREE_TOL = 1e-9  # independent recomputation vs reference code, max|a-b| / |z|

# --------------------------------------------------------------------------------------------
# importing the reference code (torch 1.13 adjustments, none touching its sources)
# --------------------------------------------------------------------------------------------

_ref = None


def import_reference():
    global _ref
    if _ref is not None:
        return _ref
    # the wrappers open torch.backends.cuda.sdp_kernel(..., enable_mem_efficient=False), which
    # torch 1.13 does not accept; it only selects CUDA kernels, so a no-op context is equivalent
    torch.backends.cuda.sdp_kernel = lambda *a, **k: contextlib.nullcontext()
    # model_utils imports the OpenAI `clip` and `open_clip` packages; nothing used here needs them
    for name in ('clip', 'open_clip'):
        sys.modules[name] = types.ModuleType(name)
    try:
        import timm
        import helpers.linear_decompose as ld
        import helpers.decompose_utils as du
        import helpers.model_utils as mu
    except ImportError as e:
        sys.exit('cannot import the vit-decompose helpers (%s): put its checkout on PYTHONPATH' % e)
    from timm.models.vision_transformer import Attention
    if not hasattr(Attention(8, num_heads=2), 'probe_h'):
        sys.exit('`timm` is not the timm vendored by vit-decompose (no probe modules in Attention): '
                 'put the vit-decompose checkout first on PYTHONPATH')
    _ref = types.SimpleNamespace(timm=timm, ld=ld, du=du, mu=mu,
                                 reference_ln_rule=ld.decompose_layernorm)
    return _ref


def exact_ln_rule(eps):
    """The reference's LayerNorm rule (statistics of the real input, frozen; every
    contribution c -> coeff*c + const/N) with the model's own statistics: biased variance
    and the model's eps, instead of torch's unbiased std and a fixed 1e-5."""
    ref = import_reference()
    ld = ref.ld

    def rule(node, root_val, root_shape, metadata):
        src, src_index = node.next_functions[0]
        weight = node.next_functions[1][0].variable
        bias = node.next_functions[2][0].variable
        grad_in = node(torch.zeros(*root_shape, device=metadata.device, dtype=metadata.dtype))[0]
        src_shape, src_meta = ld.extract_shape_metadata(grad_in)
        parts, x = ld.decompose(src, None, src_shape, src_index, src_meta)
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, unbiased=False, keepdim=True)
        rstd = 1.0 / torch.sqrt(var + eps)
        saved = getattr(node, '_saved_result2', getattr(node, '_saved_rstd', None))
        if saved is not None:  # the forward pass's own 1/std: same eps, same variance
            err = (saved.reshape(rstd.shape) - rstd).abs().max().item()
            assert err <= 1e-9 * rstd.abs().max().item(), 'LayerNorm eps mismatch (%g)' % err
        coeff = weight * rstd
        const = bias - coeff * mean
        n = ld.reduce_l(lambda t: 1, parts)
        out = ld.map_l(lambda t: (coeff * t.to(metadata.device, metadata.dtype) + const / n).cpu(), parts)
        return out, coeff * x + const

    return rule


# --------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------

def layer_norm_eps(model):
    eps = {m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)}
    assert len(eps) == 1, 'LayerNorms with different eps: %s' % sorted(eps)
    return eps.pop()


def load_golden(arch):
    gdir = os.path.join(rc.GOLDEN_DIR, arch)
    with open(os.path.join(gdir, 'config.json')) as f:
        cfg = json.load(f, object_pairs_hook=OrderedDict)
    weights = rc.load_safetensors(os.path.join(gdir, 'weights.safetensors'))
    image = rc.load_safetensors(os.path.join(gdir, 'input.safetensors'))['image'][0]
    expected = rc.load_safetensors(os.path.join(gdir, 'expected.safetensors'))['repr'][0]
    return cfg, weights, torch.from_numpy(image.copy()), torch.from_numpy(expected.copy())


class Unsupported(Exception):
    pass


def build_reference_model(cfg, weights):
    ref = import_reference()
    values = cfg['values']
    if values.get('reg', 0):
        import inspect
        from timm.models.vision_transformer import VisionTransformer
        if 'reg_tokens' not in inspect.signature(VisionTransformer.__init__).parameters:
            raise Unsupported(
                'the timm vendored by vit-decompose (%s) has no register tokens: its VisionTransformer '
                'takes no reg_tokens argument and has no reg_token parameter, and %s is not a '
                'registered model there' % (ref.timm.__version__, cfg['model'].split('.')[0]))
    try:
        model = ref.timm.create_model(cfg['model'], pretrained=False, **rc.timm_kwargs(values))
    except RuntimeError as e:
        raise Unsupported('the vendored timm cannot build %s: %s' % (cfg['model'], e))
    sd = OrderedDict((k, torch.from_numpy(v.copy()).to(torch.float32)) for k, v in weights.items())
    model.load_state_dict(sd, strict=True)
    return model.double().eval()


# --------------------------------------------------------------------------------------------
# the decomposition through the reference code
# --------------------------------------------------------------------------------------------

def run_reference(model, source, x, start, tokens, pairing):
    """Returns (components in our order as [(name, layer, kind, head, token, vector)], z)."""
    ref = import_reference()
    mu, du, ld = ref.mu, ref.du, ref.ld
    depth = len(model.blocks)
    heads = model.blocks[0].attn.num_heads
    m = copy.deepcopy(model)  # the wrapper registers hooks on the model it is given
    saved_create = mu.create_model
    mu.create_model = lambda name, pretrained=True, **kw: m
    try:
        wrapper = mu.TimmVitModel(source)
    finally:
        mu.create_model = saved_create
    wrapper.normalizer = nn.Identity()  # the golden input is already normalised
    # as the paper's scripts do: detach the residual stream at the range, freeze what precedes it
    wrapper.detach_from_res(start, depth)
    wrapper.freeze_blocks(0, start)
    wrapper.eval()
    wrapper.expand_at_points(heads=True, tokens=tokens)
    ld.decompose_layernorm = ref.reference_ln_rule if pairing == 'R' else exact_ln_rule(layer_norm_eps(m))
    try:
        nl = depth - start
        layer_heads = [(li, h) for li in range(nl) for h in range(heads)]
        comps = du.head_outputs(wrapper, layer_head_list=layer_heads)(x[None])
    finally:
        ld.decompose_layernorm = ref.reference_ln_rule
    with torch.no_grad():
        z = wrapper(x[None])[0]
    out = [('init', None, 'init', None, None, comps.pop('init')[0])]
    for l in range(start, depth):
        li = depth - 1 - l  # the reference counts layers backwards from the last decomposed block
        for h in range(heads):
            c = comps.pop('layer:%02d, attn_head:%02d' % (li, h))
            if tokens:
                for t in range(c.shape[0]):
                    out.append(('blocks.%d.attn head %d token %d' % (l, h, t), l, 'attn', h, t, c[t, 0]))
            else:
                out.append(('blocks.%d.attn head %d' % (l, h), l, 'attn', h, None, c[0]))
        out.append(('blocks.%d.mlp' % l, l, 'mlp', None, None, comps.pop('layer:%02d, mlp' % li)[0]))
    assert not comps, 'unexpected reference components: %s' % sorted(comps)
    return out, z


# --------------------------------------------------------------------------------------------
# independent recomputation of the same conventions from the model's modules
# --------------------------------------------------------------------------------------------

def _ln_coeffs(x, norm, pairing):
    """Frozen affine form of `norm` at input x: norm(x) ~ coeff*x + const."""
    mean = x.mean(-1, keepdim=True)
    if pairing == 'R':
        var = x.std(-1, keepdim=True) ** 2  # unbiased
        eps = 1e-5
    else:
        var = x.var(-1, unbiased=False, keepdim=True)
        eps = norm.eps
    coeff = norm.weight / torch.sqrt(var + eps)
    return coeff, norm.bias - coeff * mean


def _ls(ls, y):
    return y * ls.gamma if hasattr(ls, 'gamma') else y


@torch.no_grad()
def recompute(model, x, start, tokens, pairing):
    depth = len(model.blocks)
    h = model.norm_pre(model._pos_embed(model.patch_embed(x[None])))
    for blk in model.blocks[:start]:
        h = blk(h)
    raw = [h[0, 0]]  # init: class-token row of the stream entering the first decomposed block
    for l in range(start, depth):
        blk = model.blocks[l]
        at = blk.attn
        H, hd = at.num_heads, at.head_dim
        a = blk.norm1(h)  # the real forward: attention probabilities come from it (frozen)
        qkv = at.qkv(a).reshape(1, -1, 3, H, hd).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        probs = ((q * at.scale) @ k.transpose(-2, -1)).softmax(-1)[0, :, 0, :]  # [H, T] class query
        c1, k1 = _ln_coeffs(h, blk.norm1, pairing)  # the value path goes through the LN rule
        v = at.qkv(c1 * h + k1).reshape(1, -1, 3, H, hd).permute(2, 0, 3, 1, 4)[2][0]  # [H, T, hd]
        T = v.shape[1]
        W, b = at.proj.weight, at.proj.bias
        n = H * T if tokens else H
        for hh in range(H):
            Wh = W[:, hh * hd:(hh + 1) * hd]
            if tokens:
                for t in range(T):
                    raw.append(_ls(blk.ls1, Wh @ (probs[hh, t] * v[hh, t]) + b / n))
            else:
                raw.append(_ls(blk.ls1, Wh @ (probs[hh] @ v[hh]) + b / n))
        h = h + blk.ls1(at(a))
        mlp = blk.ls2(blk.mlp(blk.norm2(h)))
        raw.append(mlp[0, 0])
        h = h + mlp
    coeff, const = _ln_coeffs(h[0, 0], model.norm, pairing)
    return [coeff * r + const / len(raw) for r in raw]


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------

def mode_name(tokens, start):
    return '%s_%s' % ('heads_tokens' if tokens else 'heads', 'full' if start == 0 else 'from%d' % start)


def make_arch(arch, index):
    cfg, weights, x, expected = load_golden(arch)
    try:
        model = build_reference_model(cfg, weights)
    except Unsupported as e:
        print('%-32s not produced: %s' % (arch, e))
        index['not_produced'][arch] = str(e)
        return
    x = x.double()
    with torch.no_grad():
        z_fwd = model.forward_head(model.forward_features(x[None]), pre_logits=True)[0]
    err = ((z_fwd - expected).abs().max() / expected.abs().max()).item()
    assert err < 1e-5, '%s: reference model disagrees with the forward golden (%g)' % (arch, err)
    print('%-32s reference model vs forward golden: %.1e' % (arch, err))
    depth = len(model.blocks)
    ntok = model.patch_embed.num_patches + model.num_prefix_tokens
    starts = (0, depth - 1)
    entries = []
    for tokens in (False, True):
        for start in starts:
            for pairing in ('R', 'E'):
                comps, z = run_reference(model, cfg['model'], x, start, tokens, pairing)
                assert (z - z_fwd).abs().max().item() < 1e-12
                contrib = torch.stack([c[-1] for c in comps])
                mine = recompute(model, x, start, tokens, pairing)
                assert len(mine) == len(comps)
                agree = ((torch.stack(mine) - contrib).abs().max() / z.norm()).item()
                assert agree < AGREE_TOL, '%s %s %s: recomputation differs (%g)' % (
                    arch, mode_name(tokens, start), pairing, agree)
                znorm = z.norm().item()
                sum_err = ((contrib.sum(0) - z).abs().max() / znorm).item()
                name = '%s_%s' % (mode_name(tokens, start), pairing)
                odir = os.path.join(OUT_DIR, arch, name)
                rc.save_safetensors(os.path.join(odir, 'contrib.safetensors'),
                                    OrderedDict([('contrib', contrib), ('z', z)]))
                meta = OrderedDict()
                meta['arch'] = arch
                meta['mode'] = OrderedDict([('split', ['head', 'token'] if tokens else ['head']),
                                            ('from', start)])
                meta['ln'] = 'reference' if pairing == 'R' else 'exact'
                meta['image'] = 'tests/golden/%s/input.safetensors image[0]' % arch
                meta['weights'] = 'tests/golden/%s/weights.safetensors' % arch
                meta['shape'] = list(contrib.shape)
                meta['heads'] = model.blocks[0].attn.num_heads
                meta['tokens'] = ntok  # T: class token + patch tokens
                meta['norm_z'] = znorm
                meta['sum_check'] = sum_err
                meta['sum_check_def'] = 'max |sum(contrib) - z| / ||z||'
                meta['components'] = [OrderedDict([('name', n), ('layer', l), ('kind', k), ('head', h),
                                                   ('token', t)]) for n, l, k, h, t, _ in comps]
                rc.write_json(os.path.join(odir, 'meta.json'), meta)
                entries.append(OrderedDict([('dir', '%s/%s' % (arch, name)), ('components', len(comps)),
                                            ('sum_check', sum_err)]))
                print('%-32s %-22s %4d x %d  sum_check %.3e  |z| %.4f  (recompute %.1e)' % (
                    arch, name, contrib.shape[0], contrib.shape[1], sum_err, znorm, agree))
    index['goldens'].extend(entries)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archs', nargs='*', help='arch names (default: %s)' % ' '.join(ARCH_NAMES))
    args = ap.parse_args()
    rc.set_determinism()
    import_reference()
    names = args.archs or list(ARCH_NAMES)
    index = OrderedDict([('goldens', []), ('not_produced', OrderedDict())])
    for n in names:
        make_arch(n, index)
    if not args.archs:
        rc.write_json(os.path.join(OUT_DIR, 'index.json'), index)


if __name__ == '__main__':
    main()
