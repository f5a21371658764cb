"""A tiny CLIP trained contrastively on the toy world's captions, evaluated
zero-shot per attribute through vitc / vitrun.

    python3 tests/reference/toy_clip.py [--work DIR] [--epochs E] [--train N] [--test N] [--size S --patch P]
                                        [--group G] [--partial P] [--init openclip|mimetic] [--threads T]

1. `vitrun toyworld generate` makes a training and a test split (uniform
   attributes, 64 px PNGs) with captions like "a red striped triangle on grass".
2. A vocabulary in CLIP's BPE merges format is learned from the captions'
   words (byte-pair merges until every word is one token) and written to
   examples/toy/clip_toy_vocab.txt; OpenCLIP's SimpleTokenizer and vitrun's
   tokenizer both read it.
3. OpenCLIP's CLIP (QuickGELU; image tower: 32 px input, patch 4 -- an 8 x 8
   grid --, width 96, depth 4, 3 heads; text tower: context 16, width 64,
   depth 2, 4 heads; embedding 64) is trained from scratch with the symmetric
   contrastive loss (a caption and an image are positives of each other when
   they agree on every attribute the caption names), AdamW, one-cycle
   learning rate, fixed seeds, 1 thread.  The image tower's attention starts
   from a mimetic initialisation with a 2-D sin-cos position embedding
   (mimetic_init); batches are anchors each followed by images that differ
   from it in exactly one attribute (--group; shape and pattern 3/8 of the time each, --hard-weights).
   --partial P replaces a caption, with probability P, by one naming a random
   subset of the attributes ("a striped triangle").  Images go through the
   spec's eval transform (OpenCLIP's: bicubic resize of the 64 px PNGs to 32,
   centre crop, OpenAI mean / std).
4. Zero-shot accuracy per attribute (shape, colour, pattern, background) on the
   test split, measured through vitrun: `vitrun run` on the test PNGs for the
   image embeddings (archs/openclip_vit_b_16_quickgelu.vit with --set overrides) and
   `vitrun embed-text --templates` (archs/openclip_vit_b_16_quickgelu_text.vit) for one
   classifier row per attribute value: every caption with that value, the
   other attributes running over all their values, averaged (CLIP's prompt
   ensembling).  The same numbers are computed in PyTorch and must agree;
   vitrun's embeddings must match PyTorch's to 1e-4.
5. examples/toy/clip_toy.safetensors (the whole CLIP state dict under
   OpenCLIP's names) and examples/toy/clip_toy.json (overrides, commands,
   metrics).

Needs torch (1.13 or newer), numpy, Pillow, timm and open_clip (its src
directory) on PYTHONPATH; vitc and vitrun from build/ (or $VITC / $VITRUN).
"""

import argparse
import gzip
import itertools
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon  # noqa: E402
import toycommon as tc  # noqa: E402
from toycommon import SHAPES, COLOURS, PATTERNS, BACKGROUNDS  # noqa: E402

REPO = tc.REPO
IMG_SPEC = 'archs/openclip_vit_b_16_quickgelu.vit'
TXT_SPEC = 'archs/openclip_vit_b_16_quickgelu_text.vit'
CTX = 16
TRAIN_SEED, TEST_SEED = 11, 12
PLACES = ['in the sky', 'on grass', 'on water', 'on sand']


def art(colour):
    return 'an' if colour[0] in 'aeiou' else 'a'


def caption(shape, colour, pattern, background):
    """the generator's caption (runtime/toyworld.c)"""
    return '%s %s %s %s %s' % (art(colour), colour, pattern, shape, PLACES[BACKGROUNDS.index(background)])


CAPTION_ORDER = ['colour', 'pattern', 'shape', 'background']   # the generator's word order
ATTRIBUTE_VALUES = {'shape': SHAPES, 'colour': COLOURS, 'pattern': PATTERNS, 'background': BACKGROUNDS}


def cpu_seconds(who=resource.RUSAGE_SELF):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def partial_caption(r, named):
    """the caption naming only the attributes in `named` (a set), in the generator's word
    order: "a striped triangle", "a red star on grass", "in the sky"."""
    words = [r[k] for k in CAPTION_ORDER[:3] if k in named]
    s = '%s %s' % (art(words[0]), ' '.join(words)) if words else ''
    if 'background' in named:
        s = (s + ' ' if s else '') + PLACES[BACKGROUNDS.index(r['background'])]
    return s


# ---------------------------------------------------------------------------- initialisation

def mimetic_init(visual, gen, a1=0.7, b1=0.7, a2=0.4, b2=0.4):
    """Mimetic initialisation of the image tower's self-attention (Trockman and Kolter,
    "Mimetic initialization of self-attention layers", 2023): per head W_q^T W_k is
    about a1 Z + b1 I (a token attends to tokens like itself: with the 2-D sin-cos
    position embedding below, its neighbours), and W_v^T W_o^T about a2 Z - b2 I,
    Z Gaussian with variance 1 / width.  Only the initial values change; the module and
    its state dict are OpenCLIP's."""
    with torch.no_grad():
        for blk in visual.transformer.resblocks:
            at = blk.attn
            w = at.in_proj_weight
            d = w.shape[1]
            dh = d // at.num_heads
            for h in range(at.num_heads):
                u, sv, vh = torch.linalg.svd(a1 * torch.randn(d, d, generator=gen) / d ** 0.5 + b1 * torch.eye(d))
                w[h * dh:(h + 1) * dh] = (u[:, :dh] * sv[:dh].sqrt()).T
                w[d + h * dh:d + (h + 1) * dh] = (vh.T[:, :dh] * sv[:dh].sqrt()).T
            u, sv, vh = torch.linalg.svd(a2 * torch.randn(d, d, generator=gen) / d ** 0.5 - b2 * torch.eye(d))
            w[2 * d:] = (u * sv.sqrt()).T
            at.out_proj.weight.copy_(vh.T * sv.sqrt())


def sincos_position_embedding(grid, width):
    """2-D sin-cos position embedding (half the channels for the row, half for the column;
    MAE's), zero for the class token: [1 + grid * grid, width]"""
    gy, gx = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing='ij')

    def one(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2) / (d / 2.0))
        o = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(o), np.cos(o)], 1)
    e = np.concatenate([one(width // 2, gy), one(width // 2, gx)], 1)
    return torch.tensor(np.concatenate([np.zeros((1, width)), e], 0), dtype=torch.float32)


# ---------------------------------------------------------------------------- vocabulary

def learn_bpe(words):
    """Byte-pair merges (CLIP's format: the last symbol of a word carries '</w>') until
    every word is one symbol; the most frequent pair first, ties by the pair's text."""
    seqs = {w: tuple(w[:-1]) + (w[-1] + '</w>',) for w in words}
    merges = []
    while True:
        counts = Counter()
        for sq in seqs.values():
            for p in zip(sq, sq[1:]):
                counts[p] += 1
        if not counts:
            return merges
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        for w, sq in seqs.items():
            out, i = [], 0
            while i < len(sq):
                if i + 1 < len(sq) and (sq[i], sq[i + 1]) == best:
                    out.append(sq[i] + sq[i + 1])
                    i += 2
                else:
                    out.append(sq[i])
                    i += 1
            seqs[w] = tuple(out)


def caption_words():
    words = set()
    for s, c, p, b in itertools.product(SHAPES, COLOURS, PATTERNS, BACKGROUNDS):
        words.update(caption(s, c, p, b).split())
    return sorted(words)


# ---------------------------------------------------------------------------- data

def attribute_tables():
    """per attribute: class phrases and templates ({} = the phrase) covering the other attributes"""
    t = OrderedDict()
    t['shape'] = (SHAPES, ['%s %s %s {} %s' % (art(c), c, p, pl) for c in COLOURS for p in PATTERNS for pl in PLACES])
    t['colour'] = (['%s %s' % (art(c), c) for c in COLOURS],
                   ['{} %s %s %s' % (p, s, pl) for p in PATTERNS for s in SHAPES for pl in PLACES])
    t['pattern'] = (PATTERNS, ['%s %s {} %s %s' % (art(c), c, s, pl) for c in COLOURS for s in SHAPES for pl in PLACES])
    t['background'] = (PLACES, ['%s %s %s %s {}' % (art(c), c, p, s) for c in COLOURS for p in PATTERNS for s in SHAPES])
    return t


TRUTH = OrderedDict([('shape', ('shape', SHAPES)), ('colour', ('colour', COLOURS)), ('pattern', ('pattern', PATTERNS)),
                     ('background', ('background', BACKGROUNDS))])


@torch.no_grad()
def torch_classifiers(model, tok, tables):
    out = OrderedDict()
    for name, (phrases, templates) in tables.items():
        rows = []
        for ph in phrases:
            e = F.normalize(model.encode_text(tok([t.replace('{}', ph) for t in templates])), dim=-1).mean(0)
            rows.append(e / e.norm())
        out[name] = torch.stack(rows)
    return out


def zero_shot(img_emb, classifiers, recs):
    img_emb = F.normalize(torch.as_tensor(img_emb, dtype=torch.float64), dim=-1)
    acc = OrderedDict()
    for name, w in classifiers.items():
        key, values = TRUTH[name]
        y = torch.tensor([values.index(r[key]) for r in recs])
        pred = (img_emb @ torch.as_tensor(w, dtype=torch.float64).T).argmax(1)
        acc[name] = round(100.0 * float((pred == y).double().mean()), 2)
    return acc


# ---------------------------------------------------------------------------- batches

ATTRS = ['shape', 'colour', 'pattern', 'background']
# which attribute a hard negative differs in: shape and pattern 3/8 of the time each
HARD_WEIGHTS = [3, 1, 3, 1]


def batches(recs, batch, group, gen, weights=HARD_WEIGHTS):
    """One epoch of batches of indices.  group 1: a random permutation cut into
    batches.  group g > 1: batch / g anchors from a random permutation, each
    followed by g - 1 images equal to it in three attributes and different in
    the fourth (shape, colour, pattern, background with `weights`):
    negatives that only that attribute tells apart."""
    n = len(recs)
    perm = torch.randperm(n, generator=gen).tolist()
    if group <= 1:
        return [perm[i:i + batch] for i in range(0, n - batch + 1, batch)]
    keys = [tuple(r[k] for k in ATTRS) for r in recs]
    by_rest = {}
    for i, k in enumerate(keys):
        for a in range(4):
            by_rest.setdefault((a, k[:a] + k[a + 1:]), []).append(i)
    w = torch.tensor(weights, dtype=torch.float64)
    out, cur = [], []
    for i in perm[:n // group]:
        a = int(torch.multinomial(w, 1, generator=gen))
        k = keys[i]
        cand = [j for j in by_rest[(a, k[:a] + k[a + 1:])] if keys[j][a] != k[a]]
        cur.append(i)
        for _ in range(group - 1):
            cur.append(cand[int(torch.randint(len(cand), (1,), generator=gen))] if cand else
                       perm[int(torch.randint(n, (1,), generator=gen))])
        if len(cur) >= batch:
            out.append(cur[:batch])
            cur = []
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', help='keep the data sets and modules here (default: a temporary directory)')
    ap.add_argument('--train', type=int, default=20000)
    ap.add_argument('--test', type=int, default=1000)
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--size', type=int, default=32, help='image tower input size (the PNGs stay 64 px)')
    ap.add_argument('--patch', type=int, default=4)
    ap.add_argument('--width', type=int, default=96)
    ap.add_argument('--depth', type=int, default=4)
    ap.add_argument('--heads', type=int, default=3)
    ap.add_argument('--group', type=int, default=4,
                    help='batches of anchors each with group - 1 images that differ from it in one attribute')
    ap.add_argument('--hard-weights', default=':'.join(map(str, HARD_WEIGHTS)),
                    help='relative frequency of the attribute the group\'s images differ in: shape:colour:pattern:background')
    ap.add_argument('--partial', type=float, default=0.0,
                    help='probability that a training caption names a random subset of the attributes')
    ap.add_argument('--init', choices=['openclip', 'mimetic'], default='mimetic',
                    help='image tower attention: OpenCLIP\'s initialisation, or mimetic with a 2-D sin-cos '
                         'position embedding')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default=os.path.join(REPO, 'examples', 'toy'))
    a = ap.parse_args()
    t_start = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    np.random.seed(0)
    refcommon.import_timm()
    oc = refcommon.import_open_clip()
    from open_clip.tokenizer import SimpleTokenizer
    work = a.work or tempfile.mkdtemp(prefix='toy_clip_')
    os.makedirs(work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    vitrun, vitc = tc.tool('vitrun'), tc.tool('vitc')
    try:
        # 1. data
        gens = OrderedDict()
        gens['train'] = ['toyworld', 'generate', '--seed', str(TRAIN_SEED), '--count', str(a.train), '--size', '64']
        gens['test'] = ['toyworld', 'generate', '--seed', str(TEST_SEED), '--count', str(a.test), '--size', '64']
        tc.generate(work, gens)

        # 2. vocabulary
        words = caption_words()
        merges = learn_bpe(words)
        # no newline after the last merge: OpenCLIP would read an empty line as one more (empty) merge
        vocab_txt = '#version: 0.2\n' + '\n'.join('%s %s' % m for m in merges)
        assert len(set(x + y for x, y in merges)) == len(merges), 'two merges make the same token'
        vpath = os.path.join(a.out, 'clip_toy_vocab.txt')
        with open(vpath, 'w') as f:
            f.write(vocab_txt)
        vgz = os.path.join(work, 'clip_toy_vocab.txt.gz')
        with open(vgz, 'wb') as f:
            f.write(gzip.compress(vocab_txt.encode(), mtime=0))
        tok = SimpleTokenizer(bpe_path=vgz, context_length=CTX)
        nvocab = len(tok.encoder)
        assert nvocab == 512 + len(merges) + 2, nvocab
        for w in words:
            assert len(tok.encode(w)) == 1, (w, tok.encode(w))

        # 3. model and training
        values_img = OrderedDict([('size', a.size), ('patch', a.patch), ('dim', a.width), ('depth', a.depth),
                                  ('heads', a.heads), ('mlp', 4 * a.width), ('pos_grid', a.size // a.patch),
                                  ('proj', 64)])
        values_txt = OrderedDict([('ctx', CTX), ('vocab', nvocab), ('width', 64), ('depth', 2), ('heads', 4),
                                  ('mlp', 256), ('embed', 64)])
        vision_cfg = dict(image_size=a.size, patch_size=a.patch, width=a.width, layers=a.depth,
                          head_width=a.width // a.heads, mlp_ratio=4.0)
        text_cfg = dict(context_length=CTX, vocab_size=nvocab, width=64, heads=4, layers=2, mlp_ratio=4.0)
        torch.manual_seed(0)
        model = oc.model.CLIP(embed_dim=64, vision_cfg=vision_cfg, text_cfg=text_cfg, quick_gelu=True)
        if a.init == 'mimetic':
            mimetic_init(model.visual, torch.Generator().manual_seed(1))
            with torch.no_grad():
                model.visual.positional_embedding.copy_(sincos_position_embedding(a.size // a.patch, a.width))
        mean, std = oc.OPENAI_DATASET_MEAN, oc.OPENAI_DATASET_STD
        transform = oc.image_transform(a.size, is_train=False, mean=mean, std=std)
        recs_tr, xtr = tc.load_split(os.path.join(work, 'train'), transform)
        recs_te, xte = tc.load_split(os.path.join(work, 'test'), transform)
        caps_tr = [r['caption'] for r in recs_tr]
        ids_tr = tok(caps_tr)
        cap_index = {c: i for i, c in enumerate(sorted(set(caps_tr)))}
        # attribute values of every training image, in CAPTION_ORDER
        vals_tr = torch.tensor([[ATTRIBUTE_VALUES[k].index(r[k]) for k in CAPTION_ORDER] for r in recs_tr])
        tables = attribute_tables()
        t_data = time.time() - t_start
        print('data: %d train (%d distinct captions), %d test; vocabulary %d tokens (%d merges); %.0f s' % (
            len(recs_tr), len(cap_index), len(recs_te), nvocab, len(merges), t_data), flush=True)

        hard = [float(x) for x in a.hard_weights.split(':')]
        assert len(hard) == 4 and min(hard) >= 0 and sum(hard) > 0, '--hard-weights: four non-negative numbers'
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.1)
        steps = a.epochs * len(batches(recs_tr, a.batch, a.group, torch.Generator().manual_seed(0), hard))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.1)
        gen = torch.Generator().manual_seed(0)
        rng = random.Random(0)
        t0, cpu0 = time.time(), cpu_seconds()
        history = []
        for ep in range(a.epochs):
            model.train()
            tot, n = 0.0, 0
            for b in batches(recs_tr, a.batch, a.group, gen, hard):
                idx = torch.tensor(b)
                v = vals_tr[idx]
                named = torch.ones(len(b), 4, dtype=torch.bool)
                ids = ids_tr[idx]
                if a.partial > 0:
                    for i in range(len(b)):
                        if rng.random() < a.partial:
                            while not named[i].any() or bool(named[i].all()):
                                named[i] = torch.tensor([rng.random() < 0.5 for _ in range(4)])
                    caps = [partial_caption(recs_tr[j], {k for k, m in zip(CAPTION_ORDER, named[i]) if m})
                            for i, j in enumerate(b)]
                    ids = tok(caps)
                # pos[t, j]: caption t fits image j (they agree on every attribute caption t names)
                pos = ((v[:, None, :] == v[None, :, :]) | ~named[:, None, :]).all(2).float()
                fi = F.normalize(model.encode_image(xtr[idx]), dim=-1)
                ft = F.normalize(model.encode_text(ids), dim=-1)
                logits = model.logit_scale.exp() * ft @ fi.T
                loss = 0.5 * (-(pos / pos.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
                              - (pos.T / pos.T.sum(1, keepdim=True) * logits.T.log_softmax(1)).sum(1).mean())
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                with torch.no_grad():
                    model.logit_scale.clamp_(0, 4.6052)
                tot += float(loss) * len(idx)
                n += len(idx)
            model.eval()
            with torch.no_grad():
                emb = torch.cat([model.encode_image(xte[i:i + 250]) for i in range(0, len(xte), 250)])
            acc = zero_shot(emb, torch_classifiers(model, tok, tables), recs_te)
            history.append(OrderedDict([('epoch', ep + 1), ('loss', round(tot / n, 4))] + list(acc.items())))
            print('epoch %d: loss %.4f, zero-shot %s, %.0f s, CPU %.0f s' % (ep + 1, tot / n, dict(acc), time.time() - t0,
                                                                        cpu_seconds() - cpu0), flush=True)
        t_train, cpu_train = time.time() - t0, cpu_seconds() - cpu0
        model.eval()

        # 4. weights; vitrun against PyTorch
        wpath = os.path.join(a.out, 'clip_toy.safetensors')
        sd = model.state_dict()
        refcommon.save_safetensors(wpath, OrderedDict((k, sd[k]) for k in sd),
                                   metadata={'format': 'pt', 'model': 'open_clip CLIP (quick_gelu), small configuration'})
        sets_img, sets_txt = tc.set_args(values_img), tc.set_args(values_txt)
        mimg, mtxt = os.path.join(work, 'clip_image.vitm'), os.path.join(work, 'clip_text.vitm')
        tc.run([vitc, 'compile', os.path.join(REPO, IMG_SPEC), '-o', mimg] + sets_img)
        tc.run([vitc, 'compile', os.path.join(REPO, TXT_SPEC), '-o', mtxt] + sets_txt)

        m64 = model.double()
        with torch.no_grad():
            emb64 = torch.cat([m64.encode_image(xte[i:i + 250].double()) for i in range(0, len(xte), 250)]).numpy()
        pngs = [os.path.join(work, 'test', r['image']) for r in recs_te]
        out_img = os.path.join(work, 'test_image_emb.safetensors')
        tc.run([vitrun, 'run', mimg, '--weights', wpath] + pngs + ['-o', out_img])
        vimg = refcommon.load_safetensors(out_img)['logits']
        err_img = tc.max_rel(vimg, emb64)
        tfile = os.path.join(work, 'check_texts.txt')
        check_texts = [r['caption'] for r in recs_te[:16]]
        with open(tfile, 'w') as f:
            f.write('\n'.join(check_texts) + '\n')
        out_t = os.path.join(work, 'check_texts.safetensors')
        tc.run([vitrun, 'embed-text', mtxt, '--weights', wpath, '--vocab', vpath, '--file', tfile, '-o', out_t])
        with torch.no_grad():
            ref_t = F.normalize(m64.encode_text(tok(check_texts)), dim=-1).numpy()
        err_txt = tc.max_rel(refcommon.load_safetensors(out_t)['embeddings'], ref_t)

        # 5. zero-shot through vitrun
        classifiers_v = OrderedDict()
        cmds = OrderedDict()
        for name, (phrases, templates) in tables.items():
            pf, tf = os.path.join(work, name + '_classes.txt'), os.path.join(work, name + '_templates.txt')
            with open(pf, 'w') as f:
                f.write('\n'.join(phrases) + '\n')
            with open(tf, 'w') as f:
                f.write('\n'.join(templates) + '\n')
            out_c = os.path.join(work, name + '_classifier.safetensors')
            tc.run([vitrun, 'embed-text', mtxt, '--weights', wpath, '--vocab', vpath, '--file', pf, '--templates', tf,
                 '-o', out_c])
            classifiers_v[name] = refcommon.load_safetensors(out_c)['embeddings']
            cmds[name] = '%d classes x %d templates' % (len(phrases), len(templates))
        acc_v = zero_shot(vimg, classifiers_v, recs_te)
        with torch.no_grad():
            cls64 = torch_classifiers(m64, tok, tables)
        acc_t = zero_shot(emb64, cls64, recs_te)
        err_cls = max(tc.max_rel(classifiers_v[k], cls64[k].numpy()) for k in tables)
        model.float()
        total = time.time() - t_start
        print('vitrun vs PyTorch (float64): image embeddings of %d test PNGs %.2e, caption embeddings %.2e, '
              'zero-shot classifier rows %.2e' % (len(pngs), err_img, err_txt, err_cls))
        print('zero-shot accuracy (test, %d images) through vitrun: %s; PyTorch: %s' % (len(recs_te), dict(acc_v), dict(acc_t)))
        cpu_total = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN)
        print('time: data %.0f s, training %.0f s, total %.0f s wall; CPU (user + system) training %.0f s, total %.0f s '
              '(with vitc / vitrun)' % (t_data, t_train, total, cpu_train, cpu_total))

        info = OrderedDict()
        info['model'] = 'open_clip CLIP (quick_gelu), small configuration, trained from scratch on the toy captions'
        info['image'] = OrderedDict([('spec', IMG_SPEC), ('set', values_img),
                                     ('vitc', 'vitc compile %s -o clip_image.vitm %s' % (IMG_SPEC, ' '.join(sets_img)))])
        info['text'] = OrderedDict([('spec', TXT_SPEC), ('set', values_txt),
                                    ('vitc', 'vitc compile %s -o clip_text.vitm %s' % (TXT_SPEC, ' '.join(sets_txt)))])
        info['vocab'] = OrderedDict([('file', 'examples/toy/clip_toy_vocab.txt'), ('tokens', nvocab), ('merges', len(merges)),
                                     ('words', words)])
        info['preprocess'] = ('the spec\'s own (OpenCLIP eval): bicubic resize and centre crop to %d (%s), OpenAI mean / std'
                              % (a.size, 'the identity on the 64 px PNGs' if a.size == 64 else 'from the 64 px PNGs'))
        info['data'] = OrderedDict((k, 'vitrun ' + ' '.join(g) + ' -o ' + k) for k, g in gens.items())
        info['zero_shot'] = OrderedDict([
            ('procedure', 'one row per attribute value: the captions with that value, every value of the other '
                          'attributes, embedded (vitrun embed-text --file CLASSES --templates TEMPLATES), '
                          'L2-normalised, averaged, L2-normalised; prediction = argmax of the cosine with the '
                          'image embedding (vitrun run on the test PNGs, output logits)'),
            ('classifiers', cmds),
            ('accuracy_vitrun', acc_v), ('accuracy_pytorch', acc_t),
            ('chance', OrderedDict([('shape', round(100 / 6, 2)), ('colour', 12.5), ('pattern', 25.0),
                                    ('background', 25.0)])),
        ])
        info['training'] = OrderedDict([
            ('command', 'python3 tests/reference/toy_clip.py'),
            ('loss', 'symmetric contrastive (InfoNCE); a caption and an image are positives when they agree on every '
                     'attribute the caption names'),
            ('captions', 'the generator\'s' if a.partial <= 0 else
             'the generator\'s, or with probability %g a random subset of one to three of its attributes '
             '(each kept with probability 1/2), e.g. "a striped triangle", "a red star on grass"' % a.partial),
            ('init', 'OpenCLIP\'s' if a.init == 'openclip' else
             'OpenCLIP\'s, except the image tower: mimetic attention (W_q^T W_k ~ 0.7 Z + 0.7 I, W_v^T W_o^T ~ '
             '0.4 Z - 0.4 I per block) and a 2-D sin-cos position embedding (both trained)'),
            ('optimizer', 'AdamW, weight decay 0.1, one-cycle lr, max %g' % a.lr),
            ('epochs', a.epochs), ('batch', a.batch),
            ('batches', 'a random permutation' if a.group <= 1 else
             '%d anchors, each followed by %d images that differ from it only in the shape, colour, pattern or '
             'background (weights %s)' % (a.batch // a.group, a.group - 1, a.hard_weights)),
            ('train_images', a.train), ('seed', 0), ('threads', a.threads),
            ('test_zero_shot_per_epoch', history),
            ('torch', torch.__version__), ('open_clip', oc.__version__),
            ('seconds', OrderedDict([('data', round(t_data)), ('training', round(t_train)), ('total', round(total)),
                                     ('training_cpu', round(cpu_train)), ('total_cpu', round(cpu_total))])),
        ])
        info['check'] = OrderedDict([
            ('image_embeddings_max_rel_err', float('%.3g' % err_img)),
            ('caption_embeddings_max_rel_err', float('%.3g' % err_txt)),
            ('classifier_rows_max_rel_err', float('%.3g' % err_cls)),
            ('reference', 'open_clip in float64 on the same weights; max |a - b| / max |b|'),
            ('tolerance', 1e-4),
        ])
        refcommon.write_json(os.path.join(a.out, 'clip_toy.json'), info)
        if max(err_img, err_txt, err_cls) > 1e-4:
            sys.exit('vitrun does not match PyTorch')
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
