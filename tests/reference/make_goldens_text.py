#!/usr/bin/env python3
"""Write the CLIP text-tower goldens under tests/golden_text/<name>/ and the full-size
text-tower key lists tests/keys/<arch>.txt.

For each golden a small OpenCLIP CLIP model (open_clip.model.CLIP, QuickGELU, the text
tower at a small width / depth / vocabulary, the image tower at a minimal size) gets seeded
weights (refcommon.perturb), and

  weights.safetensors   the whole CLIP state dict under its real names (visual.*, the text
                        tower, logit_scale), F32, as an OpenCLIP checkpoint holds it
  input.safetensors     "image" [N, ctx]: token ids as F32 (the test harness's input name):
                        <start_of_text> = vocab - 2, random ids in [1, vocab - 3],
                        <end_of_text> = vocab - 1 at varying positions, then zero padding
  expected.safetensors  "embedding" [N, embed]: CLIP.encode_text(ids) (not normalised),
                        computed in float64
  config.json           "arch", "set" (the spec overrides), sizes, ids layout

The `_vocab` golden keeps the full vocabulary (49408 rows, the size of the real BPE vocab)
at width 8, so that text goes through the real tokenizer: its config.json also lists
`texts` and `templates`, and expected.safetensors also holds
  "text_embeddings" [T, embed]      OpenCLIP tokenize + encode_text, L2-normalised
  "template_embeddings" [T, embed]  for each text, every template formatted and encoded,
                                    each L2-normalised, averaged, L2-normalised again
                                    (CLIP's zero-shot classifier procedure)
That part needs the `regex` module (OpenCLIP's tokenizer); ftfy is stubbed when missing
(identity: the texts are plain ASCII, which ftfy leaves alone).

Usage: make_goldens_text.py [--no-keys] [NAME ...]   (default: all goldens, and the keys)
"""

import argparse
import copy
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

GOLDEN_TEXT_DIR = os.path.join(rc.REPO_ROOT, 'tests', 'golden_text')
SPEC_KEYS = ('ctx', 'vocab', 'width', 'depth', 'heads', 'mlp', 'embed')
# the image tower every golden carries (its keys are declared unused by the text specs)
TINY_VISION = dict(image_size=32, patch_size=16, width=32, layers=1, head_width=16, mlp_ratio=2.0)

# OpenCLIP model configs: ViT-B-16 / ViT-L-14 (GELU, the LAION weights) and their -quickgelu
# variants (the OpenAI weights); the text towers differ only in the activation
_B16 = dict(ctx=77, vocab=49408, width=512, depth=12, heads=8, mlp=2048, embed=512)
_L14 = dict(ctx=77, vocab=49408, width=768, depth=12, heads=12, mlp=3072, embed=768)
FULL = OrderedDict()
GOLDENS = OrderedDict()
for _q in ('', '_quickgelu'):
    FULL['openclip_vit_b_16%s_text' % _q] = dict(source='ViT-B-16' + _q.replace('_', '-'), full=_B16)
    FULL['openclip_vit_l_14%s_text' % _q] = dict(source='ViT-L-14' + _q.replace('_', '-'), full=_L14)
for _q in ('', '_quickgelu'):
    GOLDENS['openclip_vit_b_16%s_text' % _q] = dict(arch='openclip_vit_b_16%s_text' % _q, batch=4,
                                                   tiny=dict(vocab=500, width=32, depth=2, heads=2, mlp=128, embed=16))
    GOLDENS['openclip_vit_l_14%s_text' % _q] = dict(arch='openclip_vit_l_14%s_text' % _q, batch=4,
                                                   tiny=dict(ctx=24, vocab=500, width=48, depth=2, heads=4, mlp=192,
                                                             embed=24))
GOLDENS['openclip_vit_b_16_text_vocab'] = dict(arch='openclip_vit_b_16_text', batch=3,
                                               tiny=dict(width=8, depth=2, heads=2, mlp=32, embed=8), texts=True)

TEXTS = ['a photo of a cat', 'A diagram of the moon.', 'goldfish', 'the quick brown fox jumps over the lazy dog',
         # longer than the context: truncated to 77 with <end_of_text> kept last
         'a photo of ' + ' '.join('cat%d' % i for i in range(60))]
TEMPLATES = ['a photo of a {}.', 'a bad photo of the {}.', 'itap of a {}.', '{}']


def values_of(golden):
    v = dict(FULL[golden['arch']]['full'])
    v.update(golden['tiny'])
    return v


def clip_cfg(source, values, vision=None):
    oc = rc.import_open_clip()
    cfg = copy.deepcopy(oc.get_model_config(source))
    if vision is not None:
        cfg['vision_cfg'].update(vision)
    cfg['embed_dim'] = values['embed']
    tc = cfg['text_cfg']
    tc['context_length'] = values['ctx']
    tc['vocab_size'] = values['vocab']
    tc['width'] = values['width']
    tc['heads'] = values['heads']
    tc['layers'] = values['depth']
    tc['mlp_ratio'] = values['mlp'] / values['width']
    return cfg


def make_ids(seed, n, ctx, vocab):
    """n id rows: <sot>, random ids, <eot> at positions spread over [1, ctx - 1], zeros after."""
    g = torch.Generator().manual_seed(seed)
    ends = sorted(set([1, ctx - 1] + [int(p) for p in torch.randint(2, ctx - 1, (max(n - 2, 0),), generator=g)]))
    while len(ends) < n:
        ends.append(ends[-1] if ends[-1] < ctx - 1 else 1)
    ids = torch.zeros(n, ctx, dtype=torch.long)
    for r in range(n):
        e = ends[r]
        ids[r, 0] = vocab - 2
        if e > 1:
            ids[r, 1:e] = torch.randint(1, vocab - 2, (e - 1,), generator=g)
        ids[r, e] = vocab - 1
    return ids, ends[:n]


@torch.no_grad()
def encode64(model, ids):
    m = copy.deepcopy(model).double().eval()
    out = m.encode_text(ids)
    f32 = model.encode_text(ids).double()
    err = ((f32 - out).abs().max() / out.abs().max()).item()
    assert err < 1e-4, 'float32 encode_text disagrees with the float64 pass (%g)' % err
    return out


@torch.no_grad()
def text_references(model, ctx):
    """OpenCLIP's tokenizer on TEXTS (and TEMPLATES): normalised and template-averaged embeddings."""
    from open_clip.tokenizer import SimpleTokenizer
    tok = SimpleTokenizer(context_length=ctx)
    m = copy.deepcopy(model).double().eval()

    def embed(strings):
        return F.normalize(m.encode_text(tok(strings, context_length=ctx)), dim=-1)

    plain = embed(TEXTS)
    avg = []
    for t in TEXTS:
        e = embed([tpl.replace('{}', t) for tpl in TEMPLATES]).mean(dim=0)
        avg.append(e / e.norm())
    ids = tok(TEXTS, context_length=ctx)
    return plain, torch.stack(avg), ids


def make_golden(name):
    golden = GOLDENS[name]
    arch = FULL[golden['arch']]
    values = values_of(golden)
    seed = rc.arch_seed(name)
    torch.manual_seed(seed)
    oc = rc.import_open_clip()
    cfg = clip_cfg(arch['source'], values, TINY_VISION)
    model = oc.model.CLIP(**cfg).eval()
    rc.perturb(model, seed)
    ids, ends = make_ids(seed + 1, golden['batch'], values['ctx'], values['vocab'])
    outputs = OrderedDict(embedding=encode64(model, ids))
    conf = OrderedDict()
    conf['arch'] = golden['arch']
    conf['library'] = 'openclip'
    conf['model'] = arch['source']
    conf['set'] = OrderedDict((k, values[k]) for k in SPEC_KEYS if values[k] != arch['full'][k])
    conf['batch'] = golden['batch']
    conf['values'] = OrderedDict((k, values[k]) for k in SPEC_KEYS)
    conf['full'] = OrderedDict((k, arch['full'][k]) for k in SPEC_KEYS)
    conf['ids'] = OrderedDict([('sot', values['vocab'] - 2), ('eot', values['vocab'] - 1), ('eot_positions', ends),
                               ('pad', 0)])
    conf['vision_cfg'] = cfg['vision_cfg']
    conf['weights_note'] = ('whole CLIP state dict as an OpenCLIP checkpoint holds it; the image tower (visual.*) '
                            'is minimal and unused by the text spec')
    conf['reference'] = 'CLIP.encode_text(ids) in float64, stored as F32; tolerance is max|a-b| / max|b| per output'
    conf['tolerance'] = 1e-4
    if golden.get('texts'):
        plain, avg, tids = text_references(model, values['ctx'])
        outputs['text_embeddings'] = plain
        outputs['template_embeddings'] = avg
        conf['texts'] = TEXTS
        conf['templates'] = TEMPLATES
        conf['text_ids'] = [[int(v) for v in row if v] for row in tids]
        conf['text_reference'] = ('open_clip SimpleTokenizer (context %d) then encode_text, float64; '
                                  'text_embeddings: L2-normalised; template_embeddings: every template with '
                                  '"{}" replaced by the text, each embedding L2-normalised, averaged, '
                                  'L2-normalised' % values['ctx'])
    outdir = os.path.join(GOLDEN_TEXT_DIR, name)
    os.makedirs(outdir, exist_ok=True)
    sd = OrderedDict((k, v) for k, v in model.state_dict().items())
    rc.save_safetensors(os.path.join(outdir, 'weights.safetensors'), sd, metadata={'format': 'pt'})
    rc.save_safetensors(os.path.join(outdir, 'input.safetensors'), OrderedDict(image=ids.float()))
    rc.save_safetensors(os.path.join(outdir, 'expected.safetensors'), outputs)
    conf['outputs'] = OrderedDict((k, list(v.shape)) for k, v in outputs.items())
    rc.write_json(os.path.join(outdir, 'config.json'), conf)
    print('%-30s %s' % (name, ' '.join('%s=%s' % kv for kv in conf['set'].items())))


def make_keys(arch_name):
    """The full-size text tower's keys (those of the whole CLIP state dict minus visual.* and
    logit_scale), with shapes; the image tower is built minimal, it is dropped anyway."""
    arch = FULL[arch_name]
    oc = rc.import_open_clip()
    torch.manual_seed(0)
    model = oc.model.CLIP(**clip_cfg(arch['source'], arch['full'], TINY_VISION)).eval()
    path = os.path.join(rc.KEYS_DIR, arch_name + '.txt')
    with open(path, 'w') as f:
        for k, v in model.state_dict().items():
            if k.startswith('visual.') or k in ('logit_scale', 'logit_bias'):
                continue
            f.write('%s\t%s\n' % (k, ','.join(str(int(d)) for d in v.shape)))
    print('%-30s keys -> %s' % (arch_name, os.path.relpath(path, rc.REPO_ROOT)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('names', nargs='*', help='golden names (default: all)')
    ap.add_argument('--no-keys', action='store_true', help='do not rewrite tests/keys/<arch>.txt')
    args = ap.parse_args()
    rc.set_determinism()
    for n in args.names:
        if n not in GOLDENS:
            sys.exit('unknown golden %s (known: %s)' % (n, ', '.join(GOLDENS)))
    for n in args.names or list(GOLDENS):
        make_golden(n)
    if not args.no_keys:
        for a in FULL:
            make_keys(a)


if __name__ == '__main__':
    main()
