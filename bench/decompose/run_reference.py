#!/usr/bin/env python3
"""The paper's decomposition code (SriramB-98/vit-decompose) on DeiT-B/16 at full size.

The reference is imported, never copied: put a checkout of vit-decompose FIRST on
PYTHONPATH so that `import helpers.linear_decompose` and `import timm` resolve to it (its
vendored timm carries the probe modules the decomposition needs):

    export PYTHONPATH=<vit-decompose checkout>
    python3 bench/decompose/run_reference.py prepare
    python3 bench/decompose/run_reference.py decompose --split head --from 0 --ln reference \\
        -o bench/decompose/scratch/ref_heads_full_R.safetensors
    python3 bench/decompose/run_reference.py time --threads 1 --batch 1 --runs 5

prepare     builds timm deit_base_patch16_224 (12 blocks, 12 heads, 768 wide) with the
            vendored timm, overwrites every parameter with seeded values as
            tests/reference/check_full.py does (refcommon.perturb, seed arch_seed(name, 2)),
            and writes WORK/weights.safetensors (timm's key names, F32) and
            WORK/input.safetensors ("image" [N, 3, 224, 224] F32): the images through the
            model's own eval transform (the wrapper's `preprocess` then its `normalizer`,
            i.e. timm resolve_data_config + create_transform: bicubic resize to 248, center
            crop 224, ImageNet mean/std).
decompose   runs the reference decomposition on WORK/input.safetensors and writes
            `contrib` [N, components, 768] (F64) in our forward order (init, blocks.l.attn head h
            [token t], blocks.l.mlp), `z` [N, 768] and the component names (JSON sidecar).
            --ln reference: the reference unmodified (pairing R); --ln exact: only its
            LayerNorm rule replaced at run time by one with the model's eps and biased
            variance (pairing E, tests/reference/make_decomp_goldens.py: exact_ln_rule).
            Float64 by default, as the goldens. Token mode runs one image at a time, as the
            paper's scripts do.
time        times the reference decomposition (unmodified, float32 by default, as a user
            runs it; --forward: the model's plain forward pass instead): one JSON line per
            run with ms_per_image, after --warmup calls.

Run-time adjustments (none in the reference's decomposition logic; the same as
tests/reference/make_decomp_goldens.py): torch.backends.cuda.sdp_kernel becomes a no-op
context (torch 1.13 rejects `enable_mem_efficient`), `clip`/`open_clip` are stub modules,
`model_utils.create_model` returns the seeded model instead of downloading weights, and
`head_outputs` gets its (layer, head) list explicitly (needed with tokens expanded). For
`decompose` the wrapper's normalizer is replaced by identity because input.safetensors is
already normalised (both sides then read the very same F32 tensor); `time` keeps it and
feeds [0, 1] images as the wrapper expects.
"""

import argparse
import copy
import json
import os
import resource
import sys
import time
from collections import OrderedDict

os.environ.setdefault('TIMM_FUSED_ATTN', '0')

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'reference'))
import refcommon as rc  # noqa: E402
import make_decomp_goldens as mdg  # noqa: E402  (the run-time shims and the exact LayerNorm rule)

ARCH = 'deit_base_patch16_224'
SOURCE = 'deit_base_patch16_224.fb_in1k'
DEFAULT_IMAGES = ('examples/images/chelsea.jpg', 'examples/images/rocket.jpg')
WORK = os.path.join(HERE, 'scratch')


def save_f64(path, tensors):
    """safetensors with F64 tensors (the reference values unrounded)."""
    import struct
    header, blobs, off = OrderedDict(), [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float64).contiguous().numpy().astype('<f8').tobytes()
        header[name] = OrderedDict([('dtype', 'F64'), ('shape', list(t.shape)), ('data_offsets', [off, off + len(b)])])
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(',', ':')).encode()
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    with open(path + '.tmp', 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(path + '.tmp', path)


def max_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def build_model(seed):
    ref = mdg.import_reference()
    torch.manual_seed(seed)
    model = ref.timm.create_model(SOURCE, pretrained=False).eval()
    rc.perturb(model, seed)
    return model


def load_model(work):
    ref = mdg.import_reference()
    model = ref.timm.create_model(SOURCE, pretrained=False)
    w = rc.load_safetensors(os.path.join(work, 'weights.safetensors'))
    sd = OrderedDict((k, torch.from_numpy(v.copy()).to(torch.float32)) for k, v in w.items())
    model.load_state_dict(sd, strict=True)
    return model.eval()


def make_wrapper(model, start, tokens, keep_normalizer):
    """The paper's wrapper, set up as its scripts do, around (a copy of) `model`."""
    ref = mdg.import_reference()
    mu = ref.mu
    m = copy.deepcopy(model)  # the wrapper registers hooks on the model it is given
    saved = mu.create_model
    mu.create_model = lambda name, pretrained=True, **kw: m
    try:
        wrapper = mu.TimmVitModel(SOURCE)
    finally:
        mu.create_model = saved
    if not keep_normalizer:
        wrapper.normalizer = nn.Identity()
    depth = len(m.blocks)
    wrapper.detach_from_res(start, depth)
    wrapper.freeze_blocks(0, start)
    wrapper.eval()
    wrapper.expand_at_points(heads=True, tokens=tokens)
    return wrapper


def layer_heads(wrapper, start):
    depth = len(wrapper.model.blocks)
    heads = wrapper.model.blocks[0].attn.num_heads
    return [(li, h) for li in range(depth - start) for h in range(heads)]


def to_our_order(comps, depth, heads, start, tokens):
    """Reference dict -> ([names], tensor [B, components, D]) in our forward order."""
    names, rows = ['init'], [comps.pop('init')]
    for l in range(start, depth):
        li = depth - 1 - l  # the reference counts layers backwards from the last block
        for h in range(heads):
            c = comps.pop('layer:%02d, attn_head:%02d' % (li, h))
            if tokens:  # [T, B, D]
                for t in range(c.shape[0]):
                    names.append('blocks.%d.attn head %d token %d' % (l, h, t))
                    rows.append(c[t])
            else:
                names.append('blocks.%d.attn head %d' % (l, h))
                rows.append(c)
        names.append('blocks.%d.mlp' % l)
        rows.append(comps.pop('layer:%02d, mlp' % li))
    assert not comps, 'unexpected reference components: %s' % sorted(comps)
    return names, torch.stack(rows, 1)


# --------------------------------------------------------------------------------------------

def cmd_prepare(args):
    ref = mdg.import_reference()
    os.makedirs(args.work, exist_ok=True)
    seed = rc.arch_seed(ARCH, salt=2)
    model = build_model(seed)
    wrapper = make_wrapper(model, 0, False, keep_normalizer=True)
    from PIL import Image
    xs = []
    for p in args.images:
        with Image.open(os.path.join(REPO, p) if not os.path.isabs(p) else p) as im:
            xs.append(wrapper.normalizer(wrapper.preprocess(im.convert('RGB'))))
    x = torch.stack(xs).to(torch.float32)
    rc.save_safetensors(os.path.join(args.work, 'weights.safetensors'),
                        OrderedDict(model.state_dict().items()), metadata={'format': 'pt'})
    rc.save_safetensors(os.path.join(args.work, 'input.safetensors'), OrderedDict(image=x))
    with torch.no_grad():
        md = copy.deepcopy(model).double()
        z = md.forward_head(md.forward_features(x.double()), pre_logits=True)
    rc.save_safetensors(os.path.join(args.work, 'repr.safetensors'), OrderedDict(repr=z))
    info = OrderedDict([('arch', ARCH), ('source', SOURCE), ('timm', ref.timm.__version__),
                        ('torch', torch.__version__), ('seed', seed), ('images', list(args.images)),
                        ('transform', repr(wrapper.preprocess).replace('\n', ' ')),
                        ('normalizer', repr(wrapper.normalizer)), ('shape', list(x.shape))])
    rc.write_json(os.path.join(args.work, 'prepare.json'), info)
    print(json.dumps(info, indent=1))


def cmd_decompose(args):
    torch.set_num_threads(args.threads)
    ref = mdg.import_reference()
    ld, du = ref.ld, ref.du
    tokens = args.split == 'head,token'
    dtype = getattr(torch, args.dtype)
    model = load_model(args.work).to(dtype)
    x_all = torch.from_numpy(rc.load_safetensors(os.path.join(args.work, 'input.safetensors'))['image'].copy())
    x_all = x_all.to(torch.float32).to(dtype)  # the stored F32 values, exactly
    if args.images is not None:
        x_all = x_all[:args.images]
    depth, heads = len(model.blocks), model.blocks[0].attn.num_heads
    rule = ref.reference_ln_rule if args.ln == 'reference' else mdg.exact_ln_rule(mdg.layer_norm_eps(model))
    batch = 1 if tokens else x_all.shape[0]
    outs, zs, names, secs = [], [], None, 0.0
    for i in range(0, x_all.shape[0], batch):
        x = x_all[i:i + batch]
        wrapper = make_wrapper(model, args.start, tokens, keep_normalizer=False)
        ld.decompose_layernorm = rule
        try:
            t0 = time.perf_counter()
            comps = du.head_outputs(wrapper, layer_head_list=layer_heads(wrapper, args.start))(x)
            secs += time.perf_counter() - t0
        finally:
            ld.decompose_layernorm = ref.reference_ln_rule
        wrapper.delete_components()
        with torch.no_grad():
            z = wrapper(x)
        names, c = to_our_order(comps, depth, heads, args.start, tokens)
        del comps, wrapper
        outs.append(c.to(torch.float64))
        zs.append(z.to(torch.float64))
    contrib, z = torch.cat(outs), torch.cat(zs)
    znorm = z.norm(dim=-1)
    sum_check = ((contrib.sum(1) - z).abs().amax(-1) / znorm).max().item()
    save_f64(args.output, OrderedDict([('contrib', contrib), ('z', z)]))
    side = os.path.splitext(args.output)[0] + '.json'
    meta = OrderedDict([('split', args.split), ('from', args.start), ('ln', args.ln), ('dtype', args.dtype),
                        ('images', int(z.shape[0])), ('shape', list(contrib.shape)),
                        ('norm_z', znorm.tolist()), ('sum_check', sum_check),
                        ('seconds', secs), ('seconds_per_image', secs / z.shape[0]),
                        ('max_rss_kib', max_rss_kib()), ('components', names)])
    rc.write_json(side, meta)
    print(json.dumps(OrderedDict((k, v) for k, v in meta.items() if k != 'components')))


def cmd_time(args):
    torch.set_num_threads(args.threads)
    ref = mdg.import_reference()
    du = ref.du
    dtype = getattr(torch, args.dtype)
    model = load_model(args.work).to(dtype)
    x = torch.from_numpy(rc.load_safetensors(os.path.join(args.work, 'input.safetensors'))['image'].copy())
    x = x.to(torch.float32)
    # back to [0, 1] images: the wrapper normalises inside its forward, as in the paper's scripts
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    x = (x * std + mean)
    idx = [i % x.shape[0] for i in range(args.batch)]
    x = x[idx].to(dtype)
    if args.forward:  # the plain forward pass of the same model (timm), for the overhead ratio
        wrapper = make_wrapper(model, 0, False, keep_normalizer=True)

        def run():
            with torch.no_grad():
                return wrapper(x)
    else:
        wrapper = make_wrapper(model, args.start, args.split == 'head,token', keep_normalizer=True)
        fn = du.head_outputs(wrapper, layer_head_list=layer_heads(wrapper, args.start))

        def run():
            with torch.no_grad():
                comps = fn(x)
            wrapper.delete_components()
            return comps
    for r in range(-args.warmup, args.runs):
        t0 = time.perf_counter()
        out = run()
        ms = (time.perf_counter() - t0) * 1e3 / args.batch
        del out
        if r >= 0:
            print(json.dumps(OrderedDict([('tool', 'reference'), ('run', r), ('batch', args.batch),
                                          ('threads', args.threads), ('dtype', args.dtype),
                                          ('what', 'forward' if args.forward else 'decompose'),
                                          ('split', args.split), ('from', args.start),
                                          ('ms_per_image', round(ms, 3)), ('max_rss_kib', max_rss_kib())])),
                  flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', default=WORK, help='working directory (default bench/decompose/scratch)')
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('prepare')
    p.add_argument('images', nargs='*', default=list(DEFAULT_IMAGES))
    for name in ('decompose', 'time'):
        p = sub.add_parser(name)
        p.add_argument('--split', choices=('head', 'head,token'), default='head')
        p.add_argument('--from', dest='start', type=int, default=0)
        p.add_argument('--threads', type=int, default=1)
        if name == 'decompose':
            p.add_argument('--ln', choices=('reference', 'exact'), default='reference')
            p.add_argument('--dtype', choices=('float64', 'float32'), default='float64')
            p.add_argument('--images', type=int, default=None, help='only the first N images')
            p.add_argument('-o', dest='output', required=True)
        else:
            p.add_argument('--dtype', choices=('float64', 'float32'), default='float32')
            p.add_argument('--batch', type=int, default=1)
            p.add_argument('--runs', type=int, default=5)
            p.add_argument('--warmup', type=int, default=1)
            p.add_argument('--forward', action='store_true', help='time the plain forward pass instead')
    args = ap.parse_args()
    rc.set_determinism()
    {'prepare': cmd_prepare, 'decompose': cmd_decompose, 'time': cmd_time}[args.cmd](args)


if __name__ == '__main__':
    main()
