#!/usr/bin/env python3
"""Write reference decomposition goldens for Swin under tests/golden_decomp/<arch>/<mode>_<R|E>/.

As make_decomp_goldens.py, for timm's SwinTransformer: the representation z
(`forward_head(forward_features(x), pre_logits=True)`: the final norm averaged over the
last grid) is decomposed into init + per-head attention + per-block MLP contributions by the
paper's own code (SriramB-98/vit-decompose: helpers/linear_decompose.py `decompose`,
helpers/decompose_utils.py `head_outputs`, helpers/model_utils.py `TimmSwinModel`) running
on the timm that repository vendors. Put a checkout of that repository first on PYTHONPATH:

    export PYTHONPATH=<vit-decompose checkout>
    python3 tests/reference/make_decomp_goldens_swin.py [ARCH ...]

The weights are tests/golden/<arch>/weights.safetensors and the image is the first image of
tests/golden/<arch>/input.safetensors (the model's repr is checked against
tests/golden/<arch>/expected.safetensors first).

Differences between the vendored timm's Swin and the one the goldens come from, handled at
run time (none touches the decomposition code):
  - `relative_position_index` (every block) and `attn_mask` (shifted blocks) are persistent
    buffers in the vendored timm and absent from the weights (non-persistent in current timm):
    the vendored model computes them itself; those are the only keys it lacks.
  - the vendored blocks cannot pad a grid to whole windows (swin_base's small config needs it):
    for such archs window_partition pads (zeros, bottom/right, after the cyclic shift),
    window_reverse crops, and blocks whose grid needs padding are built for the padded grid so
    that the shifted-window mask is the one of the padded grid, as current timm does.

Modes: heads over all blocks (`heads_full`) and from a later block (`heads_from<ordinal>`,
the last block of stage 2, with stage 3's patch merging in the range), pairings R (the
reference unmodified) and E (its LayerNorm rule replaced by the exact one), as in
make_decomp_goldens.py. Every result is also recomputed independently from the model's
modules and must agree. Everything runs in float64, single-threaded; files are F32.
"""

import argparse
import contextlib
import copy
import math
import os
import sys
from collections import OrderedDict

os.environ.setdefault('TIMM_FUSED_ATTN', '0')

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402
import make_decomp_goldens as md  # noqa: E402
import make_goldens_swin as ms  # noqa: E402

OUT_DIR = md.OUT_DIR
ARCH_NAMES = ('swin_tiny_patch4_window7_224', 'swin_small_patch4_window7_224',
              'swin_base_patch4_window7_224')
AGREE_TOL = md.AGREE_TOL
# the buffers the vendored timm keeps in its state dict and the golden weights do not hold
COMPUTED_BUFFERS = ('attn.relative_position_index', 'attn_mask')


def swin_module():
    ref = md.import_reference()
    import timm.models.swin_transformer as sw
    if not hasattr(sw.WindowAttention(8, num_heads=2, window_size=2), 'probe_h'):
        sys.exit('`timm` is not the timm vendored by vit-decompose (no probe modules in '
                 'WindowAttention): put the vit-decompose checkout first on PYTHONPATH')
    return ref, sw


# --------------------------------------------------------------------------------------------
# grids that are not whole windows (run-time padding for the vendored blocks)
# --------------------------------------------------------------------------------------------

def needs_padding(cfg):
    return any(g > w and g % w for st in cfg['layout'] for g, w in zip(st['grid'], st['window']))


@contextlib.contextmanager
def padded_windows(enabled):
    """Zero-pad to whole windows in window_partition and crop in window_reverse (vendored
    module functions the blocks call), and build blocks whose grid needs padding for the padded
    grid (the mask of current timm), then give them back their real resolution."""
    _, sw = swin_module()
    if not enabled:
        yield
        return
    partition, reverse, block_init = sw.window_partition, sw.window_reverse, sw.SwinTransformerBlock.__init__

    def up(n, w):
        return int(math.ceil(n / w)) * w

    def window_partition(x, window_size):
        _, H, W, _ = x.shape
        ph, pw = up(H, window_size) - H, up(W, window_size) - W
        if ph or pw:
            x = F.pad(x, (0, 0, 0, pw, 0, ph))
        return partition(x, window_size)

    def window_reverse(windows, window_size, H, W):
        Hp, Wp = up(H, window_size), up(W, window_size)
        x = reverse(windows, window_size, Hp, Wp)
        if (Hp, Wp) != (H, W):
            x = x[:, :H, :W, :].contiguous()
        return x

    def init(self, *args, **kw):
        res, w = tuple(kw['input_resolution']), kw['window_size']
        if min(res) > w and any(r % w for r in res):
            kw['input_resolution'] = tuple(up(r, w) for r in res)
            block_init(self, *args, **kw)
            self.input_resolution = res
        else:
            block_init(self, *args, **kw)

    sw.window_partition, sw.window_reverse, sw.SwinTransformerBlock.__init__ = window_partition, window_reverse, init
    try:
        yield
    finally:
        sw.window_partition, sw.window_reverse, sw.SwinTransformerBlock.__init__ = partition, reverse, block_init


# --------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------

def build_reference_model(cfg, weights):
    ref, sw = swin_module()
    model = ref.timm.create_model(cfg['model'], pretrained=False, **ms.timm_kwargs(cfg['values']))
    for s, (stage, lay) in enumerate(zip(model.layers, cfg['layout'])):
        for b, blk in enumerate(stage.blocks):
            assert [blk.window_size] * 2 == lay['window'] and [blk.shift_size] * 2 == lay['shifts'][b], \
                'vendored timm built layers.%d.blocks.%d differently' % (s, b)
    sd = OrderedDict((k, torch.from_numpy(v.copy()).to(torch.float32)) for k, v in weights.items())
    r = model.load_state_dict(sd, strict=False)
    assert not r.unexpected_keys, r.unexpected_keys
    assert all(k.endswith(COMPUTED_BUFFERS) for k in r.missing_keys), r.missing_keys
    return model.double().eval()


def block_list(model):
    """[(stage, block, ordinal, heads)] in forward order."""
    out = []
    for s, stage in enumerate(model.layers):
        for b, blk in enumerate(stage.blocks):
            out.append((s, b, len(out), blk.attn.num_heads))
    return out


# --------------------------------------------------------------------------------------------
# the decomposition through the reference code
# --------------------------------------------------------------------------------------------

def run_reference(model, source, x, start, pairing):
    """Components in our order as [(name, ordinal, kind, head, token, vector)], and z."""
    ref = md.import_reference()
    mu, du, ld = ref.mu, ref.du, ref.ld
    blocks = block_list(model)
    first = [i for s, b, i, _ in blocks if (s, b) == start][0]
    rng = blocks[first:]
    m = copy.deepcopy(model)  # the wrapper registers hooks on the model it is given
    saved_create = mu.create_model
    mu.create_model = lambda name, pretrained=True, **kw: m
    try:
        wrapper = mu.TimmSwinModel(source)
    finally:
        mu.create_model = saved_create
    wrapper.normalizer = nn.Identity()  # the golden input is already normalised
    last = (len(m.layers) - 1, len(m.layers[-1].blocks))
    # as the paper's scripts do: detach the residual stream from the start block, freeze before it
    with contextlib.redirect_stdout(open(os.devnull, 'w')):  # it prints every block it detaches
        wrapper.detach_from_res(start, last)
    wrapper.freeze_blocks(0, start)
    wrapper.eval()
    wrapper.expand_at_points(heads=True, tokens=False)
    ld.decompose_layernorm = ref.reference_ln_rule if pairing == 'R' else md.exact_ln_rule(md.layer_norm_eps(m))
    try:
        nl = len(rng)
        # the reference counts layers backwards from the last block: layer LL is rng[nl - 1 - LL]
        layer_heads = [(li, h) for li in range(nl) for h in range(rng[nl - 1 - li][3])]
        comps = du.head_outputs(wrapper, layer_head_list=layer_heads)(x[None])
    finally:
        ld.decompose_layernorm = ref.reference_ln_rule
    with torch.no_grad():
        z = wrapper(x[None])[0]
    D = z.numel()

    def vec(c):
        # [1, D]; a one-head block's head axis is dropped by remove_singleton, leaving [D] after
        # get_attn_component's head index (which then picks the only batch row)
        assert c.numel() == D, c.shape
        return c.reshape(D)

    out = [('init', None, 'init', None, None, vec(comps.pop('init')))]
    for k, (s, b, i, heads) in enumerate(rng):
        li = nl - 1 - k
        scope = 'layers.%d.blocks.%d' % (s, b)
        for h in range(heads):
            out.append(('%s.attn head %d' % (scope, h), i, 'attn', h, None,
                        vec(comps.pop('layer:%02d, attn_head:%02d' % (li, h)))))
        out.append(('%s.mlp' % scope, i, 'mlp', None, None, vec(comps.pop('layer:%02d, mlp' % li))))
    assert not comps, 'unexpected reference components: %s' % sorted(comps)
    return out, z


# --------------------------------------------------------------------------------------------
# independent recomputation of the same conventions from the model's modules
# --------------------------------------------------------------------------------------------

def _windows(blk, t):
    """[1, H, W, C] -> [nW, N, C]: cyclic shift, zero padding to whole windows, partition."""
    ws, sh = blk.window_size, blk.shift_size
    if sh:
        t = torch.roll(t, shifts=(-sh, -sh), dims=(1, 2))
    _, H, W, C = t.shape
    ph, pw = (ws - H % ws) % ws, (ws - W % ws) % ws
    t = F.pad(t, (0, 0, 0, pw, 0, ph))
    Hp, Wp = H + ph, W + pw
    t = t.view(1, Hp // ws, ws, Wp // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return t.reshape(-1, ws * ws, C)


def _unwindows(blk, t, H, W):
    """[nW, N, C] -> [1, H, W, C]: the inverse (crop, reverse shift)."""
    ws, sh = blk.window_size, blk.shift_size
    C = t.shape[-1]
    Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
    t = t.view(1, Hp // ws, Wp // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(1, Hp, Wp, C)
    t = t[:, :H, :W]
    if sh:
        t = torch.roll(t, shifts=(sh, sh), dims=(1, 2))
    return t


def _probs(blk, a):
    """Attention probabilities of the real forward: [nW, heads, N, N]."""
    at = blk.attn
    xw = _windows(blk, a)
    nW, N, _ = xw.shape
    qkv = at.qkv(xw).reshape(nW, N, 3, at.num_heads, -1).permute(2, 0, 3, 1, 4)
    logits = (qkv[0] * at.scale) @ qkv[1].transpose(-2, -1) + at._get_rel_pos_bias()
    if blk.attn_mask is not None:
        logits = logits + blk.attn_mask[:, None]
    return logits.softmax(-1)


def _merge(t):
    """Patch merging's 2 x 2 neighbourhood flattening, [1, H, W, C] -> [1, H/2, W/2, 4C]."""
    B, H, W, C = t.shape
    return t.reshape(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3)


@torch.no_grad()
def recompute(model, x, start, pairing):
    h = model.patch_embed(x[None])
    comps = None
    for s, stage in enumerate(model.layers):
        if comps is not None and not isinstance(stage.downsample, nn.Identity):
            ds = stage.downsample
            hm = _merge(h)
            coeff, const = md._ln_coeffs(hm, ds.norm, pairing)
            comps = [ds.reduction(coeff * _merge(c) + const / len(comps)) for c in comps]
        h = stage.downsample(h)
        for b, blk in enumerate(stage.blocks):
            if (s, b) == start:
                comps = [h]  # init: the whole stream entering the first decomposed block
            if comps is None:
                h = blk(h)
                continue
            at = blk.attn
            _, H, W, C = h.shape
            p = _probs(blk, blk.norm1(h))  # frozen, from the real forward
            c1, k1 = md._ln_coeffs(h, blk.norm1, pairing)  # the value path goes through the LN rule
            vw = _windows(blk, c1 * h + k1)
            nW, N, _ = vw.shape
            v = at.qkv(vw).reshape(nW, N, 3, at.num_heads, -1).permute(2, 0, 3, 1, 4)[2]
            o = p @ v  # [nW, heads, N, hd]
            hd = o.shape[-1]
            for hh in range(at.num_heads):
                oh = torch.zeros(nW, N, at.num_heads * hd, dtype=o.dtype)
                oh[..., hh * hd:(hh + 1) * hd] = o[:, hh]
                comps.append(_unwindows(blk, F.linear(oh, at.proj.weight, at.proj.bias / at.num_heads), H, W))
            real = blk(h)
            h2 = h.reshape(1, -1, C)
            h2 = h2 + _unwindows(blk, at(_windows(blk, blk.norm1(h)), mask=blk.attn_mask), H, W).reshape(1, -1, C)
            mlp = blk.mlp(blk.norm2(h2))
            comps.append(mlp.reshape(1, H, W, C))
            h = (h2 + mlp).reshape(1, H, W, C)
            assert (h - real).abs().max().item() < 1e-12
    coeff, const = md._ln_coeffs(h, model.norm, pairing)
    return [(coeff * c + const / len(comps)).mean((1, 2))[0] for c in comps]


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------

def mode_name(start_ordinal):
    return 'heads_%s' % ('full' if start_ordinal == 0 else 'from%d' % start_ordinal)


def make_arch(arch):
    cfg, weights, x, expected = md.load_golden(arch)
    x = x.double()
    with padded_windows(needs_padding(cfg)):
        model = build_reference_model(cfg, weights)
        with torch.no_grad():
            z_fwd = model.forward_head(model.forward_features(x[None]), pre_logits=True)[0]
        err = ((z_fwd - expected).abs().max() / expected.abs().max()).item()
        assert err < 1e-5, '%s: reference model disagrees with the forward golden (%g)' % (arch, err)
        print('%-32s reference model vs forward golden: %.1e%s' % (
            arch, err, '  (padded windows)' if needs_padding(cfg) else ''))
        blocks = block_list(model)
        late = [(s, b, i) for s, b, i, _ in blocks if s == 2][-1]  # the last block of stage 2
        for start, ordinal in (((0, 0), 0), ((late[0], late[1]), late[2])):
            for pairing in ('R', 'E'):
                comps, z = run_reference(model, cfg['model'], x, start, pairing)
                assert (z - z_fwd).abs().max().item() < 1e-12
                contrib = torch.stack([c[-1] for c in comps])
                mine = recompute(model, x, start, pairing)
                assert len(mine) == len(comps)
                agree = ((torch.stack(mine) - contrib).abs().max() / z.norm()).item()
                assert agree < AGREE_TOL, '%s %s %s: recomputation differs (%g)' % (
                    arch, mode_name(ordinal), pairing, agree)
                znorm = z.norm().item()
                sum_err = ((contrib.sum(0) - z).abs().max() / znorm).item()
                name = '%s_%s' % (mode_name(ordinal), pairing)
                odir = os.path.join(OUT_DIR, arch, name)
                rc.save_safetensors(os.path.join(odir, 'contrib.safetensors'),
                                    OrderedDict([('contrib', contrib), ('z', z)]))
                meta = OrderedDict()
                meta['arch'] = arch
                meta['mode'] = OrderedDict([('split', ['head']), ('from', ordinal)])
                meta['ln'] = 'reference' if pairing == 'R' else 'exact'
                meta['image'] = 'tests/golden/%s/input.safetensors image[0]' % arch
                meta['weights'] = 'tests/golden/%s/weights.safetensors' % arch
                meta['shape'] = list(contrib.shape)
                meta['heads'] = [st.blocks[0].attn.num_heads for st in model.layers]  # per stage
                meta['tokens'] = [st['grid'][0] * st['grid'][1] for st in cfg['layout']]  # per stage
                meta['norm_z'] = znorm
                meta['sum_check'] = sum_err
                meta['sum_check_def'] = 'max |sum(contrib) - z| / ||z||'
                meta['components'] = [OrderedDict([('name', n), ('layer', l), ('kind', k), ('head', h),
                                                   ('token', t)]) for n, l, k, h, t, _ in comps]
                rc.write_json(os.path.join(odir, 'meta.json'), meta)
                print('%-32s %-16s from layers.%d.blocks.%d  %3d x %d  sum_check %.3e  |z| %.4f  '
                      '(recompute %.1e)' % (arch, name, start[0], start[1], contrib.shape[0], contrib.shape[1],
                                            sum_err, znorm, agree))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archs', nargs='*', help='arch names (default: %s)' % ' '.join(ARCH_NAMES))
    args = ap.parse_args()
    rc.set_determinism()
    swin_module()
    for n in args.archs or ARCH_NAMES:
        make_arch(n)


if __name__ == '__main__':
    main()
