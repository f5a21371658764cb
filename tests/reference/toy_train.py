"""A tiny DeiT classifier with a spurious background cue, made the way the
paper's Waterbirds classifiers are: a backbone trained on other, balanced
supervision, then a linear head trained on the spurious split.

    python3 tests/reference/toy_train.py [--work DIR] [--epochs E] [--pretrain N] [--train N] [--test N] [--l2 L]

1. `vitrun toyworld generate` makes a pretraining split with uniform
   attributes, a training split whose two-class object label (the object's
   colour group, neighbouring hues apart -- class A: red, yellow, blue, white;
   class B: orange, green, purple, black; any shape, pattern, position and
   size) agrees with the background domain (A on land: grass or sand; B on
   water) for 95 % of the images, and a balanced test split (every (class,
   domain) group the same size); 64 px PNGs.
2. Each image goes through the eval transform of archs/deit_tiny_patch16_224.vit
   (timm's: bicubic resize of the shorter side to floor(64 / 0.9) = 71, centre
   crop 64, ImageNet mean / std) -- the view `vitrun run` gives the model.  The
   generator keeps every object 4 px (size / 16) inside the border, so the crop
   never cuts it.
3. The backbone: timm's `deit_tiny_patch16_224` at a small configuration
   (image 64, patch 8, width 96, depth 4, 3 heads, MLP 384) trained from
   scratch on the pretraining split with four linear heads on its
   representation (the class token after the final norm), one per attribute
   (colour, background, pattern, shape), the sum of their cross-entropies;
   AdamW, fixed seeds, 1 thread.
4. The classifier: the backbone frozen, a linear head (2 classes) trained on
   its representation of the spurious training split by logistic regression
   with an L2 penalty (--l2).  The head is timm's `head`, so the spec's logits
   are the classifier.  Heads for a few other penalties are trained beside it
   and their test accuracies recorded (how much the head relies on the
   background depends on the penalty).
5. Average and per-group accuracy on the balanced test split; the worst group
   is where the spurious cue misleads (class A on water, class B on land).
6. The weights (backbone and classifier head; the attribute heads are not
   kept) go to examples/toy/deit_toy.safetensors under timm's names; the
   spec's --set overrides, the commands and the metrics to
   examples/toy/deit_toy.json.
7. vitc compiles the spec with those overrides and vitrun runs it on test images,
   from the preprocessed tensors (--tensor) and from the PNG files; both must
   match PyTorch to 1e-4 (max |a - b| / max |b| over the logits), and vitrun's
   accuracy over the whole test split must equal PyTorch's.

Needs torch (1.13 or newer), numpy, Pillow and timm on PYTHONPATH; vitc and
vitrun from build/ (or $VITC / $VITRUN).
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon  # noqa: E402
import toycommon as tc  # noqa: E402

REPO = tc.REPO
SPEC = 'archs/deit_tiny_patch16_224.vit'
VALUES = OrderedDict([('size', 64), ('patch', 8), ('dim', 96), ('depth', 4), ('heads', 3), ('mlp', 384),
                      ('classes', 2), ('pos_grid', 8)])
SPURIOUS = 0.95
PRETRAIN_SEED, PRETEST_SEED, TRAIN_SEED, TEST_SEED = 5, 6, 1, 2
GROUPS = ['A on land', 'A on water', 'B on land', 'B on water']  # group = 2 * class + domain
ATTRIBUTES = OrderedDict([('colour', tc.COLOURS), ('background', tc.BACKGROUNDS), ('pattern', tc.PATTERNS),
                          ('shape', tc.SHAPES)])
L2_RECORDED = [0.0, 0.01, 0.1, 0.3, 1.0]


def load_split(d, transform):
    recs, x = tc.load_split(d, transform)
    y = torch.tensor([r.get('class', -1) for r in recs])
    g = torch.tensor([r.get('group', -1) for r in recs])
    return recs, x, y, g


def attribute_labels(recs):
    return OrderedDict((k, torch.tensor([v.index(r[k]) for r in recs])) for k, v in ATTRIBUTES.items())


def group_metrics(pred, y, g):
    acc = OrderedDict()
    for k, name in enumerate(GROUPS):
        m = g == k
        acc[name] = round(100.0 * float((pred[m] == y[m]).float().mean()), 2)
    avg = round(100.0 * float((pred == y).float().mean()), 2)
    worst = min(acc.values())
    return OrderedDict([('average_accuracy', avg), ('worst_group_accuracy', worst),
                        ('worst_group', min(acc, key=acc.get)), ('group_accuracy', acc),
                        ('gap', round(avg - worst, 2))])


def create(timm):
    return timm.create_model('deit_tiny_patch16_224', pretrained=False, img_size=VALUES['size'],
                             patch_size=VALUES['patch'], embed_dim=VALUES['dim'], depth=VALUES['depth'],
                             num_heads=VALUES['heads'], mlp_ratio=VALUES['mlp'] / VALUES['dim'],
                             num_classes=VALUES['classes'])


def representation(model, x, bs=256):
    """the class token after the final norm (timm's pre-logits; the spec's 'repr')"""
    model.eval()
    with torch.no_grad():
        return torch.cat([model.forward_head(model.forward_features(x[i:i + bs]), pre_logits=True)
                          for i in range(0, len(x), bs)])


def predict(model, x, bs=256):
    with torch.no_grad():
        return torch.cat([model(x[i:i + bs]) for i in range(0, len(x), bs)])


def train_backbone(model, x, labels, a, log):
    """the backbone with one linear head per attribute on its representation; returns the heads"""
    heads = torch.nn.ModuleDict((k, torch.nn.Linear(VALUES['dim'], len(v))) for k, v in ATTRIBUTES.items())
    opt = torch.optim.AdamW(list(model.parameters()) + list(heads.parameters()), lr=a.lr, weight_decay=0.05)
    steps = a.epochs * ((len(x) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(0)
    for ep in range(a.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        tot = 0.0
        for i in range(0, len(perm), a.batch):
            idx = perm[i:i + a.batch]
            f = model.forward_head(model.forward_features(x[idx]), pre_logits=True)
            loss = sum(F.cross_entropy(heads[k](f), labels[k][idx]) for k in ATTRIBUTES)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss) * len(idx)
        log(ep, tot / len(x), heads)
    return heads


def train_head(r, y, l2, epochs=20, lr=1e-2, batch=32):
    """logistic regression on the representation r: cross-entropy + l2 * |W|^2, AdamW, seed 0"""
    torch.manual_seed(0)
    lin = torch.nn.Linear(r.shape[1], VALUES['classes'])
    opt = torch.optim.AdamW(lin.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(lin(r[idx]), y[idx]) + l2 * (lin.weight ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return lin


def cpu_seconds():
    """CPU time of this process and its finished children (user + system)"""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', help='keep the data sets and modules here (default: a temporary directory)')
    ap.add_argument('--pretrain', type=int, default=8000, help='images with uniform attributes for the backbone')
    ap.add_argument('--train', type=int, default=4000, help='images of the spurious split for the classifier head')
    ap.add_argument('--test', type=int, default=800)
    ap.add_argument('--epochs', type=int, default=12, help='backbone epochs')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--l2', type=float, default=0.1, help='L2 penalty of the classifier head')
    ap.add_argument('--out', default=os.path.join(REPO, 'examples', 'toy'))
    a = ap.parse_args()
    t_start, c_start = time.time(), cpu_seconds()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    timm = refcommon.import_timm()
    work = a.work or tempfile.mkdtemp(prefix='toy_train_')
    os.makedirs(work, exist_ok=True)
    vitrun, vitc = tc.tool('vitrun'), tc.tool('vitc')
    try:
        # 1. data
        gen_pre = ['toyworld', 'generate', '--seed', str(PRETRAIN_SEED), '--count', str(a.pretrain), '--size', '64']
        gen_pretest = ['toyworld', 'generate', '--seed', str(PRETEST_SEED), '--count', '1000', '--size', '64']
        gen_train = ['toyworld', 'generate', '--seed', str(TRAIN_SEED), '--count', str(a.train), '--size', '64',
                     '--spurious', str(SPURIOUS)]
        gen_test = ['toyworld', 'generate', '--seed', str(TEST_SEED), '--count', str(a.test), '--size', '64', '--balanced']
        tc.generate(work, OrderedDict([('pretrain', gen_pre), ('pretest', gen_pretest), ('train', gen_train),
                                       ('test', gen_test)]))
        # 2. the spec's eval transform
        cfg = timm.data.resolve_data_config({'input_size': (3, 64, 64)}, model=create(timm))
        assert abs(cfg['crop_pct'] - 0.9) < 1e-9 and cfg['interpolation'] == 'bicubic', cfg
        transform = timm.data.create_transform(**cfg)
        recs_pre, xpre, _, _ = load_split(os.path.join(work, 'pretrain'), transform)
        recs_pt, xpt, _, _ = load_split(os.path.join(work, 'pretest'), transform)
        recs_tr, xtr, ytr, gtr = load_split(os.path.join(work, 'train'), transform)
        recs_te, xte, yte, gte = load_split(os.path.join(work, 'test'), transform)
        t_data, c_data = time.time() - t_start, cpu_seconds() - c_start
        print('data: %d pretraining, %d train (groups %s), %d test (groups %s), %.0f s' % (
            len(xpre), len(ytr), torch.bincount(gtr, minlength=4).tolist(), len(yte),
            torch.bincount(gte, minlength=4).tolist(), t_data), flush=True)

        # 3. the backbone on balanced attribute supervision
        t0, c0 = time.time(), cpu_seconds()
        torch.manual_seed(0)
        model = create(timm)
        lpt = attribute_labels(recs_pt)
        attr_acc = OrderedDict()

        def log(ep, loss, heads):
            r = representation(model, xpt)
            attr_acc.clear()
            for k in ATTRIBUTES:
                attr_acc[k] = round(100.0 * float((heads[k](r).argmax(1) == lpt[k]).float().mean()), 2)
            print('backbone epoch %d: loss %.4f, attribute accuracy (uniform test set) %s, %.0f s' % (
                ep + 1, loss, dict(attr_acc), time.time() - t0), flush=True)
        train_backbone(model, xpre, attribute_labels(recs_pre), a, log)

        # 4. the classifier head on the spurious split
        rtr, rte = representation(model, xtr), representation(model, xte)
        penalties = OrderedDict()
        for l2 in sorted(set(L2_RECORDED + [a.l2])):
            lin = train_head(rtr, ytr, l2)
            with torch.no_grad():
                m = group_metrics(lin(rte).argmax(1), yte, gte)
            penalties['%g' % l2] = m
            print('head, L2 %g: test average %.2f %%, worst group %.2f %% (%s)' % (
                l2, m['average_accuracy'], m['worst_group_accuracy'], m['worst_group']), flush=True)
            if l2 == a.l2:
                head = lin
        with torch.no_grad():
            model.head.weight.copy_(head.weight)
            model.head.bias.copy_(head.bias)
        t_train, c_train = time.time() - t0, cpu_seconds() - c0
        model.eval()
        logits_te = predict(model, xte)
        metrics = group_metrics(logits_te.argmax(1), yte, gte)
        train_metrics = group_metrics(predict(model, xtr).argmax(1), ytr, gtr)

        # 5. weights under timm's names
        os.makedirs(a.out, exist_ok=True)
        wpath = os.path.join(a.out, 'deit_toy.safetensors')
        sd = model.state_dict()
        refcommon.save_safetensors(wpath, OrderedDict((k, sd[k]) for k in sd),
                                   metadata={'format': 'pt', 'model': 'timm deit_tiny_patch16_224, small configuration'})

        # 6. vitc / vitrun against PyTorch
        sets = tc.set_args(VALUES)
        module = os.path.join(work, 'deit_toy.vitm')
        tc.run([vitc, 'compile', os.path.join(REPO, SPEC), '-o', module] + sets)
        ncheck = 8
        tpath = os.path.join(work, 'check_input.safetensors')
        refcommon.save_safetensors(tpath, OrderedDict([('image', xte[:ncheck])]))
        out_t = os.path.join(work, 'check_tensor.safetensors')
        tc.run([vitrun, 'run', module, '--weights', wpath, '--tensor', tpath, '--threads', '1', '-o', out_t])
        # the reference in float64, as the goldens
        m64 = model.double()
        with torch.no_grad():
            ref_t = m64(xte[:ncheck].double()).numpy()
        err_tensor = tc.max_rel(refcommon.load_safetensors(out_t)['logits'], ref_t)
        pngs = [os.path.join(work, 'test', r['image']) for r in recs_te[:ncheck]]
        out_p = os.path.join(work, 'check_png.safetensors')
        tc.run([vitrun, 'run', module, '--weights', wpath, '--threads', '1'] + pngs + ['-o', out_p])
        err_png = tc.max_rel(refcommon.load_safetensors(out_p)['logits'], ref_t)
        # the whole test split through vitrun, from the PNG files
        out_all = os.path.join(work, 'test_logits.safetensors')
        allpngs = [os.path.join(work, 'test', r['image']) for r in recs_te]
        tc.run([vitrun, 'run', module, '--weights', wpath, '--threads', '1'] + allpngs + ['-o', out_all])
        vl = torch.from_numpy(np.asarray(refcommon.load_safetensors(out_all)['logits']))
        metrics_vitrun = group_metrics(vl.argmax(1), yte, gte)
        err_all = tc.max_rel(vl.numpy(), logits_te.numpy())
        model.float()
        total, c_total = time.time() - t_start, cpu_seconds() - c_start
        print('vitrun vs PyTorch (float64), logits of %d test images: from the tensor %.2e, from the PNG files %.2e; '
              'whole test split vs PyTorch float32 %.2e' % (ncheck, err_tensor, err_png, err_all))
        print('test (balanced, %d): average %.2f %%, worst group %.2f %% (%s), gap %.2f points; groups %s' % (
            len(yte), metrics['average_accuracy'], metrics['worst_group_accuracy'], metrics['worst_group'],
            metrics['gap'], dict(metrics['group_accuracy'])))
        print('through vitrun: average %.2f %%, worst group %.2f %%' % (
            metrics_vitrun['average_accuracy'], metrics_vitrun['worst_group_accuracy']))
        print('time: data %.0f s, training %.0f s (CPU %.0f s), total %.0f s (CPU %.0f s)' % (
            t_data, t_train, c_train, total, c_total))

        info = OrderedDict()
        info['model'] = ('timm deit_tiny_patch16_224 architecture, small configuration: a backbone trained from scratch '
                         'on balanced attribute labels, and a linear head trained on the spurious split')
        info['spec'] = SPEC
        info['set'] = VALUES
        info['vitc'] = 'vitc compile %s -o deit_toy.vitm %s' % (SPEC, ' '.join(sets))
        info['vitrun'] = 'vitrun run deit_toy.vitm --weights examples/toy/deit_toy.safetensors IMAGE.png...'
        info['classes'] = ['A (red, yellow, blue, white objects)', 'B (orange, green, purple, black objects)']
        info['preprocess'] = ('the spec\'s own (timm eval transform): bicubic resize 64 -> 71 (floor(64 / 0.9)), centre '
                              'crop 64 at offset 4, ImageNet mean / std; training used the same view')
        info['data'] = OrderedDict([
            ('pretrain', 'vitrun ' + ' '.join(gen_pre) + ' -o pretrain'),
            ('pretest', 'vitrun ' + ' '.join(gen_pretest) + ' -o pretest'),
            ('train', 'vitrun ' + ' '.join(gen_train) + ' -o train'),
            ('test', 'vitrun ' + ' '.join(gen_test) + ' -o test'),
            ('train_groups', torch.bincount(gtr, minlength=4).tolist()),
            ('test_groups', torch.bincount(gte, minlength=4).tolist()),
            ('groups', GROUPS),
        ])
        info['training'] = OrderedDict([
            ('command', 'python3 tests/reference/toy_train.py'),
            ('backbone', OrderedDict([
                ('data', 'pretrain (uniform attributes)'),
                ('loss', 'sum of the cross-entropies of four linear heads on the representation: %s' % ', '.join(
                    '%s (%d)' % (k, len(v)) for k, v in ATTRIBUTES.items())),
                ('optimizer', 'AdamW, weight decay 0.05, one-cycle lr, max %g' % a.lr),
                ('epochs', a.epochs), ('batch', a.batch), ('augmentation', 'none'),
                ('attribute_accuracy_pretest', attr_acc)])),
            ('head', OrderedDict([
                ('data', 'train (spurious), the backbone frozen'),
                ('loss', 'cross-entropy + %g * sum of the squared weights' % a.l2),
                ('optimizer', 'AdamW without weight decay, lr 0.01, batch 32, 20 epochs'),
                ('test_by_l2', penalties)])),
            ('seed', 0), ('threads', 1),
            ('torch', torch.__version__), ('timm', timm.__version__),
            ('seconds', OrderedDict([('data', round(t_data)), ('training', round(t_train)), ('total', round(total))])),
            ('cpu_seconds', OrderedDict([('data', round(c_data)), ('training', round(c_train)),
                                         ('total', round(c_total))])),
        ])
        info['metrics'] = OrderedDict([('test_balanced', metrics), ('test_balanced_vitrun', metrics_vitrun),
                                       ('train_spurious', train_metrics)])
        info['check'] = OrderedDict([
            ('images', ncheck),
            ('logits_max_rel_err_tensor', float('%.3g' % err_tensor)),
            ('logits_max_rel_err_png', float('%.3g' % err_png)),
            ('reference', 'timm forward in float64 on the same weights; max |a - b| / max |b|'),
            ('logits_max_rel_err_test_split_float32', float('%.3g' % err_all)),
            ('tolerance', 1e-4),
        ])
        refcommon.write_json(os.path.join(a.out, 'deit_toy.json'), info)
        ok = err_tensor <= 1e-4 and err_png <= 1e-4 and metrics_vitrun['average_accuracy'] == metrics['average_accuracy']
        if not ok:
            sys.exit('vitrun does not match PyTorch')
        if metrics['gap'] < 15:
            print('note: the worst group is only %.2f points below the average' % metrics['gap'])
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
