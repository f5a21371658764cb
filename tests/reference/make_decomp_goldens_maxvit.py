#!/usr/bin/env python3
"""Write reference decomposition goldens for MaxViT under tests/golden_decomp/<arch>/<mode>_<R|E>/.

As make_decomp_goldens.py, for timm's MaxxVit (the `_tf_` MaxViT configs): the
representation z (`forward_features(x).mean((-1, -2))`, the paper's MaxViT representation and
our output `repr`) is decomposed into init + per-block MBConv branch + per-head block / grid
attention + per-partition-layer MLP contributions by the paper's own code
(SriramB-98/vit-decompose: helpers/linear_decompose.py `decompose`, helpers/decompose_utils.py
`head_outputs`, helpers/model_utils.py `TimmMaxVitModel`) running on the timm that repository
vendors. Put a checkout of that repository first on PYTHONPATH:

    export PYTHONPATH=<vit-decompose checkout>
    python3 tests/reference/make_decomp_goldens_maxvit.py [ARCH ...]

The weights are tests/golden/<arch>/weights.safetensors and the image is the first image of
tests/golden/<arch>/input.safetensors (the model's repr is checked against
tests/golden/<arch>/expected.safetensors first).

The vendored timm (1.0.4.dev0) builds the small configs with the same modules, key names and
shapes as the timm of the goldens (the weights bind strictly; the BatchNorm
`num_batches_tracked` counters, stored as [1], are given the model's [] shape). Its MBConv adds
`shortcut + branch` (current timm: `branch + shortcut`), which only fixes the order of the two
terms in the reference's component tree, and its `AttentionCl` carries the `probe_h` /
`probe_t` modules the wrapper hooks.

Run-time adjustment beyond those of make_decomp_goldens.py (none touches the decomposition
code): under torch 1.13 `F.linear` on a 4-D input (MaxViT's channels-last partitions and MLPs)
is recorded as matmul + an in-place bias add, which makes every such bias a separate leaf of the
decomposition and breaks the wrapper's `collect_components`. While the wrapper runs, `F.linear`
on a contiguous input of more than three dimensions with a bias is computed as addmm on the
input flattened to 2-D plus a view, the graph torch records for 2-D and contiguous 3-D inputs
(the same values; the bias is then split over the contributions reaching the linear, as for
any other linear).

Modes: heads over all blocks (`heads_full`) and from two later blocks (`heads_from<layer>`,
<layer> the first decomposed layer as our decomposition counts layers: three per MaxViT block,
conv, attn_block, attn_grid): the last block of stage 2 (stage 3's downsampling shortcut in the
range, the start block's own in init) and the last block that is not the first of its stage
(identity shortcut at the start, every later stage's downsampling in the range), the two
nearest analogues in the small configs of the paper's MaxViT-S start, stage 2 block 3.
Pairings R (the reference unmodified) and E (its LayerNorm rule replaced by the exact one), as
in make_decomp_goldens.py. Every result is also recomputed independently from the model's
modules and must agree. Everything runs in float64, single-threaded; files are F32.
"""

import argparse
import contextlib
import copy
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

OUT_DIR = md.OUT_DIR
ARCH_NAMES = ('maxvit_tiny_tf_224', 'maxvit_small_tf_224')
AGREE_TOL = md.AGREE_TOL
PARTS = ('attn_block', 'attn_grid')


def maxvit_module():
    ref = md.import_reference()
    import timm.models.maxxvit as mx
    if not hasattr(mx.AttentionCl(8, dim_head=4), 'probe_h'):
        sys.exit('`timm` is not the timm vendored by vit-decompose (no probe modules in '
                 'AttentionCl): put the vit-decompose checkout first on PYTHONPATH')
    return ref, mx


# --------------------------------------------------------------------------------------------
# F.linear on >3-D input as torch records it for 2-D / contiguous 3-D input
# --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def flat_linear(counter=None):
    linear = F.linear

    def flat(input, weight, bias=None):
        if bias is not None and input.dim() > 3 and input.is_contiguous():
            if counter is not None:
                counter[0] += 1
            out = torch.addmm(bias, input.reshape(-1, input.shape[-1]), weight.t())
            return out.view(*input.shape[:-1], out.shape[-1])
        if counter is not None and input.dim() > 3:
            counter[1] += 1
        return linear(input, weight, bias)

    F.linear = flat
    try:
        yield
    finally:
        F.linear = linear


# --------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------

def timm_kwargs(values):
    d = values['dim']
    return dict(img_size=values['size'], num_classes=values['classes'], embed_dim=(d, 2 * d, 4 * d, 8 * d),
                depths=(values['depth0'], values['depth1'], values['depth2'], values['depth3']),
                stem_width=values['stem'], head_hidden_size=values['hidden'],
                transformer_dim_head=values['head_dim'])


def build_reference_model(cfg, weights):
    ref, mx = maxvit_module()
    model = ref.timm.create_model(cfg['model'], pretrained=False, **timm_kwargs(cfg['values']))
    assert isinstance(model, mx.MaxxVit)
    target = model.state_dict()
    assert sorted(target) == sorted(weights), 'vendored timm state dict keys differ: %s' % sorted(
        set(target) ^ set(weights))
    sd = OrderedDict()
    for k, v in weights.items():
        t = torch.from_numpy(v.copy())
        if k.endswith('num_batches_tracked'):  # stored as [1]; the model's counter is a [] int64
            t = t.reshape(target[k].shape).to(target[k].dtype)
        else:
            t = t.to(torch.float32)
        assert t.shape == target[k].shape, (k, t.shape, target[k].shape)
        sd[k] = t
    model.load_state_dict(sd, strict=True)
    for m in model.modules():
        if isinstance(m, mx.AttentionCl):
            assert not m.fused_attn
    return model.double().eval()


def block_list(model):
    """[(stage, block, ordinal, heads)] in forward order (heads of both partition layers)."""
    out = []
    for s, stage in enumerate(model.stages):
        for b, blk in enumerate(stage.blocks):
            assert blk.attn_block.attn.num_heads == blk.attn_grid.attn.num_heads
            out.append((s, b, len(out), blk.attn_block.attn.num_heads))
    return out


# --------------------------------------------------------------------------------------------
# the decomposition through the reference code
# --------------------------------------------------------------------------------------------

def run_reference(model, source, x, start, pairing):
    """Components in our order as [(name, layer, kind, head, token, vector)], and z."""
    ref, _ = maxvit_module()
    mu, du, ld = ref.mu, ref.du, ref.ld
    blocks = block_list(model)
    first = [i for s, b, i, _ in blocks if (s, b) == start][0]
    rng = blocks[first:]
    m = copy.deepcopy(model)  # the wrapper registers hooks on the model it is given
    saved_create = mu.create_model
    mu.create_model = lambda name, pretrained=True, **kw: m
    try:
        wrapper = mu.TimmMaxVitModel(source)
    finally:
        mu.create_model = saved_create
    wrapper.normalizer = nn.Identity()  # the golden input is already normalised
    last = (len(m.stages) - 1, len(m.stages[-1].blocks))
    # as the paper's scripts do: detach the residual stream from the start block, freeze before it
    with contextlib.redirect_stdout(open(os.devnull, 'w')):  # it prints every block it detaches
        wrapper.detach_from_res(start, last)
    wrapper.freeze_blocks((0, 0), start)
    wrapper.eval()
    wrapper.expand_at_points(heads=True, tokens=False)
    ld.decompose_layernorm = ref.reference_ln_rule if pairing == 'R' else md.exact_ln_rule(md.layer_norm_eps(m))
    counter = [0, 0]
    try:
        nb = len(rng)
        # attention / MLP layers count backwards over the partition layers: LL = 2k is the grid
        # layer and LL = 2k + 1 the block layer of the k-th block from the end
        layer_heads = [(li, h) for li in range(2 * nb) for h in range(rng[nb - 1 - li // 2][3])]
        with flat_linear(counter):
            comps = du.head_outputs(wrapper, layer_head_list=layer_heads)(x[None])
    finally:
        ld.decompose_layernorm = ref.reference_ln_rule
    assert counter[0] > 0 and counter[1] == 0, counter  # every >3-D linear was contiguous
    with torch.no_grad():
        z = wrapper(x[None])[0]
    D = z.numel()

    def vec(c):
        # [1, D]; a one-head layer's head axis is dropped by remove_singleton, leaving [D] after
        # get_attn_component's head index (which then picks the only batch row)
        assert c.numel() == D, c.shape
        return c.reshape(D)

    out = [('init', None, 'init', None, None, vec(comps.pop('init')))]
    for k, (s, b, i, heads) in enumerate(rng):
        kb = nb - 1 - k  # the block's index counted from the last block
        scope = 'stages.%d.blocks.%d' % (s, b)
        out.append(('%s.conv' % scope, 3 * i, 'conv', None, None,
                    vec(comps.pop('layer:(%02d, %02d), conv' % (2 * kb, 2 * kb + 1)))))
        for p, part in enumerate(PARTS):
            li = 2 * kb + (1 if part == 'attn_block' else 0)
            for h in range(heads):
                out.append(('%s.%s.attn head %d' % (scope, part, h), 3 * i + 1 + p, 'attn', h, None,
                            vec(comps.pop('layer:%02d, attn_head:%02d' % (li, h)))))
            out.append(('%s.%s.mlp' % (scope, part), 3 * i + 1 + p, 'mlp', None, None,
                        vec(comps.pop('layer:%02d, mlp' % li))))
    assert not comps, 'unexpected reference components: %s' % sorted(comps)
    return out, z


# --------------------------------------------------------------------------------------------
# independent recomputation of the same conventions from the model's modules
# --------------------------------------------------------------------------------------------

def _partition(part, t):
    _, mx = maxvit_module()
    if part.partition_block:
        return mx.window_partition(t, part.partition_size)
    return mx.grid_partition(t, part.partition_size)


def _reverse(part, t, hw):
    _, mx = maxvit_module()
    if part.partition_block:
        return mx.window_reverse(t, part.partition_size, hw)
    return mx.grid_reverse(t, part.partition_size, hw)


def _qkv(at, t):
    """[B', p, p, C] -> q, k, v [B', heads, N, hd] as AttentionCl splits them."""
    B = t.shape[0]
    if at.head_first:
        return at.qkv(t).view(B, -1, at.num_heads, at.dim_head * 3).transpose(1, 2).chunk(3, dim=3)
    return at.qkv(t).reshape(B, -1, 3, at.num_heads, at.dim_head).transpose(1, 3).unbind(2)


def _attention(part, h, pairing):
    """Per-head outputs of a partition layer on the NHWC stream h: frozen probabilities from the
    real forward, values through the LayerNorm rule, proj bias split over the heads."""
    at = part.attn
    hw = h.shape[1:3]
    xp = _partition(part, part.norm1(h))
    q, k, _ = _qkv(at, xp)
    logits = (q * at.scale) @ k.transpose(-2, -1)
    if at.rel_pos is not None:
        logits = at.rel_pos(logits)
    probs = logits.softmax(-1)
    c1, k1 = md._ln_coeffs(h, part.norm1, pairing)
    v = _qkv(at, _partition(part, c1 * h + k1))[2]
    o = probs @ v  # [B', heads, N, hd]
    H, hd = at.num_heads, at.dim_head
    out = []
    for hh in range(H):
        oh = torch.zeros_like(o)
        oh[:, hh] = o[:, hh]
        oh = oh.transpose(1, 2).reshape(xp.shape[:-1] + (-1,))
        out.append(_reverse(part, F.linear(oh, at.proj.weight, at.proj.bias / H), hw))
    return out


def _mbconv_branch(cv, t):
    t = cv.down(cv.pre_norm(t))
    t = cv.norm1(cv.conv1_1x1(t))
    t = cv.conv2_kxk(t)
    if cv.se_early is not None:
        t = cv.se_early(t)
    t = cv.norm2(t)
    if cv.se is not None:
        t = cv.se(t)
    return cv.conv3_1x1(t)


def _shortcut(cv, comps):
    """The MBConv shortcut on every contribution: identity, or the (zero-padded) average pool
    and the 1x1 expand with its bias split equally over the contributions."""
    sc = cv.shortcut
    if isinstance(sc, nn.Identity):
        return comps
    out = [sc.pool(c) for c in comps]
    if not isinstance(sc.expand, nn.Identity):
        e = sc.expand
        out = [F.conv2d(c, e.weight, e.bias / len(comps) if e.bias is not None else None) for c in out]
    return out


@torch.no_grad()
def recompute(model, x, start, pairing):
    h = model.stem(x[None])
    comps = None  # NCHW
    for s, stage in enumerate(model.stages):
        for b, blk in enumerate(stage.blocks):
            if (s, b) == start:
                comps = [h]  # init: the whole stream entering the first decomposed block
            if comps is None:
                h = blk(h)
                continue
            real = blk(h)
            comps = _shortcut(blk.conv, comps)
            branch = _mbconv_branch(blk.conv, h)
            comps.append(branch)
            h_conv = blk.conv(h)
            assert (h_conv - blk.conv.shortcut(h) - branch).abs().max().item() < 1e-12
            h = h_conv
            t = h.permute(0, 2, 3, 1)
            for part in (blk.attn_block, blk.attn_grid):
                heads = _attention(part, t, pairing)
                comps.extend(c.permute(0, 3, 1, 2) for c in heads)
                t = t + part._partition_attn(part.norm1(t))
                mlp = part.mlp(part.norm2(t))
                comps.append(mlp.permute(0, 3, 1, 2))
                t = t + mlp
            h = t.permute(0, 3, 1, 2)
            assert (h - real).abs().max().item() < 1e-12
    return [c.mean((-1, -2))[0] for c in comps]


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------

def mode_name(layer):
    return 'heads_%s' % ('full' if layer == 0 else 'from%d' % layer)


def start_points(model):
    """(stage, block) starts: the first block, the last block of stage 2, and the last block that
    is not the first of its stage."""
    blocks = block_list(model)
    late = [(s, b) for s, b, _, _ in blocks if s == 2][-1]
    inner = [(s, b) for s, b, _, _ in blocks if b > 0][-1]
    return [(0, 0)] + sorted({late, inner}, key=lambda sb: [(s, b) for s, b, _, _ in blocks].index(sb))


def make_arch(arch):
    cfg, weights, x, expected = md.load_golden(arch)
    x = x.double()
    model = build_reference_model(cfg, weights)
    with torch.no_grad():
        z_fwd = model.forward_features(x[None]).mean((-1, -2))[0]
    err = ((z_fwd - expected).abs().max() / expected.abs().max()).item()
    assert err < 1e-5, '%s: reference model disagrees with the forward golden (%g)' % (arch, err)
    print('%-24s reference model vs forward golden: %.1e' % (arch, err))
    blocks = block_list(model)
    for start in start_points(model):
        ordinal = [i for s, b, i, _ in blocks if (s, b) == start][0]
        layer = 3 * ordinal
        for pairing in ('R', 'E'):
            comps, z = run_reference(model, cfg['model'], x, start, pairing)
            assert (z - z_fwd).abs().max().item() < 1e-12
            contrib = torch.stack([c[-1] for c in comps])
            mine = recompute(model, x, start, pairing)
            assert len(mine) == len(comps)
            agree = ((torch.stack(mine) - contrib).abs().max() / z.norm()).item()
            assert agree < AGREE_TOL, '%s %s %s: recomputation differs (%g)' % (arch, mode_name(layer), pairing, agree)
            znorm = z.norm().item()
            sum_err = ((contrib.sum(0) - z).abs().max() / znorm).item()
            name = '%s_%s' % (mode_name(layer), pairing)
            odir = os.path.join(OUT_DIR, arch, name)
            rc.save_safetensors(os.path.join(odir, 'contrib.safetensors'), OrderedDict([('contrib', contrib), ('z', z)]))
            meta = OrderedDict()
            meta['arch'] = arch
            meta['mode'] = OrderedDict([('split', ['head']), ('from', layer)])
            meta['ln'] = 'reference' if pairing == 'R' else 'exact'
            meta['image'] = 'tests/golden/%s/input.safetensors image[0]' % arch
            meta['weights'] = 'tests/golden/%s/weights.safetensors' % arch
            meta['start'] = 'stages.%d.blocks.%d' % start
            meta['shape'] = list(contrib.shape)
            meta['heads'] = [st.blocks[0].attn_block.attn.num_heads for st in model.stages]  # per stage
            meta['norm_z'] = znorm
            meta['sum_check'] = sum_err
            meta['sum_check_def'] = 'max |sum(contrib) - z| / ||z||'
            meta['components'] = [OrderedDict([('name', n), ('layer', l), ('kind', k), ('head', h), ('token', t)])
                                  for n, l, k, h, t, _ in comps]
            rc.write_json(os.path.join(odir, 'meta.json'), meta)
            print('%-24s %-16s from stages.%d.blocks.%d  %3d x %d  sum_check %.3e  |z| %.4f  (recompute %.1e)' % (
                arch, name, start[0], start[1], contrib.shape[0], contrib.shape[1], sum_err, znorm, agree))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archs', nargs='*', help='arch names (default: %s)' % ' '.join(ARCH_NAMES))
    args = ap.parse_args()
    rc.set_determinism()
    maxvit_module()
    for n in args.archs or ARCH_NAMES:
        make_arch(n)


if __name__ == '__main__':
    main()
