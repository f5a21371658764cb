"""A tiny DeiT trained on the toy world with a spurious background cue.

    python3 tests/reference/toy_train.py [--work DIR] [--epochs E] [--train N] [--test N]

1. `vitrun toyworld generate` makes a training split whose two-class object
   label (the object's colour group, neighbouring hues apart -- class A: red,
   yellow, blue, white; class B: orange, green, purple, black; any shape,
   pattern, position and size) agrees with the background domain (A on land:
   grass or sand; B on water) for 95 % of the images, and a balanced test
   split (every (class, domain) group the same size); 64 px PNGs.
2. Each image goes through the eval transform of archs/deit_tiny_patch16_224.vit
   (timm's: bicubic resize of the shorter side to floor(64 / 0.9) = 71, centre
   crop 64, ImageNet mean / std) -- the view `vitrun run` gives the model.  The
   generator keeps every object 4 px (size / 16) inside the border, so the crop
   never cuts it.
3. timm's `deit_tiny_patch16_224` at a small configuration (image 64, patch 8,
   width 96, depth 4, 3 heads, MLP 384, 2 classes) is trained from scratch with
   AdamW, fixed seeds, 2 threads.
4. Average and per-group accuracy on the balanced test split; the worst group
   is where the spurious cue misleads (class A on water, class B on land).
5. The weights go to examples/toy/deit_toy.safetensors under timm's names; the
   spec's --set overrides, the commands and the metrics to
   examples/toy/deit_toy.json.
6. vitc compiles the spec with those overrides and vitrun runs it on test images,
   from the preprocessed tensors (--tensor) and from the PNG files; both must
   match PyTorch to 1e-4 (max |a - b| / max |b| over the logits), and vitrun's
   accuracy over the whole test split must equal PyTorch's.

Needs torch (1.13 or newer), numpy, Pillow and timm on PYTHONPATH; vitc and
vitrun from build/ (or $VITC / $VITRUN).
"""

import argparse
import os
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
TRAIN_SEED, TEST_SEED = 1, 2
GROUPS = ['A on land', 'A on water', 'B on land', 'B on water']  # group = 2 * class + domain


def load_split(d, transform):
    recs, x = tc.load_split(d, transform)
    y = torch.tensor([r['class'] for r in recs])
    g = torch.tensor([r['group'] for r in recs])
    return recs, x, y, g


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


def predict(model, x, bs=256):
    with torch.no_grad():
        return torch.cat([model(x[i:i + bs]) for i in range(0, len(x), bs)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', help='keep the data sets and modules here (default: a temporary directory)')
    ap.add_argument('--train', type=int, default=4000)
    ap.add_argument('--test', type=int, default=800)
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--out', default=os.path.join(REPO, 'examples', 'toy'))
    a = ap.parse_args()
    t_start = time.time()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    timm = refcommon.import_timm()
    work = a.work or tempfile.mkdtemp(prefix='toy_train_')
    os.makedirs(work, exist_ok=True)
    vitrun, vitc = tc.tool('vitrun'), tc.tool('vitc')
    try:
        # 1. data
        gen_train = ['toyworld', 'generate', '--seed', str(TRAIN_SEED), '--count', str(a.train), '--size', '64',
                     '--spurious', str(SPURIOUS)]
        gen_test = ['toyworld', 'generate', '--seed', str(TEST_SEED), '--count', str(a.test), '--size', '64', '--balanced']
        tc.generate(work, OrderedDict([('train', gen_train), ('test', gen_test)]))
        # 2. the spec's eval transform
        model = timm.create_model('deit_tiny_patch16_224', pretrained=False, img_size=VALUES['size'],
                                  patch_size=VALUES['patch'], embed_dim=VALUES['dim'], depth=VALUES['depth'],
                                  num_heads=VALUES['heads'], mlp_ratio=VALUES['mlp'] / VALUES['dim'],
                                  num_classes=VALUES['classes'])
        cfg = timm.data.resolve_data_config({'input_size': (3, 64, 64)}, model=model)
        assert abs(cfg['crop_pct'] - 0.9) < 1e-9 and cfg['interpolation'] == 'bicubic', cfg
        transform = timm.data.create_transform(**cfg)
        recs_tr, xtr, ytr, gtr = load_split(os.path.join(work, 'train'), transform)
        recs_te, xte, yte, gte = load_split(os.path.join(work, 'test'), transform)
        t_data = time.time() - t_start
        print('data: %d train (groups %s), %d test (groups %s), %.0f s' % (
            len(ytr), torch.bincount(gtr, minlength=4).tolist(), len(yte), torch.bincount(gte, minlength=4).tolist(),
            t_data), flush=True)

        # 3. training
        torch.manual_seed(0)
        model = timm.create_model('deit_tiny_patch16_224', pretrained=False, img_size=VALUES['size'],
                                  patch_size=VALUES['patch'], embed_dim=VALUES['dim'], depth=VALUES['depth'],
                                  num_heads=VALUES['heads'], mlp_ratio=VALUES['mlp'] / VALUES['dim'],
                                  num_classes=VALUES['classes'])
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.05)
        steps = a.epochs * ((len(ytr) + a.batch - 1) // a.batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.1)
        gen = torch.Generator().manual_seed(0)
        t0 = time.time()
        for ep in range(a.epochs):
            model.train()
            perm = torch.randperm(len(ytr), generator=gen)
            tot, n = 0.0, 0
            for i in range(0, len(perm), a.batch):
                idx = perm[i:i + a.batch]
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                tot += float(loss) * len(idx)
                n += len(idx)
            model.eval()
            m = group_metrics(predict(model, xte).argmax(1), yte, gte)
            print('epoch %d: loss %.4f, test average %.2f %%, worst group %.2f %% (%s), %.0f s' % (
                ep + 1, tot / n, m['average_accuracy'], m['worst_group_accuracy'], m['worst_group'], time.time() - t0),
                flush=True)
        t_train = time.time() - t0
        model.eval()
        logits_te = predict(model, xte)
        metrics = group_metrics(logits_te.argmax(1), yte, gte)
        train_metrics = group_metrics(predict(model, xtr).argmax(1), ytr, gtr)

        # 4. weights under timm's names
        os.makedirs(a.out, exist_ok=True)
        wpath = os.path.join(a.out, 'deit_toy.safetensors')
        sd = model.state_dict()
        refcommon.save_safetensors(wpath, OrderedDict((k, sd[k]) for k in sd),
                                   metadata={'format': 'pt', 'model': 'timm deit_tiny_patch16_224, small configuration'})

        # 5. vitc / vitrun against PyTorch
        sets = tc.set_args(VALUES)
        module = os.path.join(work, 'deit_toy.vitm')
        tc.run([vitc, 'compile', os.path.join(REPO, SPEC), '-o', module] + sets)
        ncheck = 8
        tpath = os.path.join(work, 'check_input.safetensors')
        refcommon.save_safetensors(tpath, OrderedDict([('image', xte[:ncheck])]))
        out_t = os.path.join(work, 'check_tensor.safetensors')
        tc.run([vitrun, 'run', module, '--weights', wpath, '--tensor', tpath, '-o', out_t])
        # the reference in float64, as the goldens
        m64 = model.double()
        with torch.no_grad():
            ref_t = m64(xte[:ncheck].double()).numpy()
        err_tensor = tc.max_rel(refcommon.load_safetensors(out_t)['logits'], ref_t)
        pngs = [os.path.join(work, 'test', r['image']) for r in recs_te[:ncheck]]
        out_p = os.path.join(work, 'check_png.safetensors')
        tc.run([vitrun, 'run', module, '--weights', wpath] + pngs + ['-o', out_p])
        err_png = tc.max_rel(refcommon.load_safetensors(out_p)['logits'], ref_t)
        # the whole test split through vitrun, from the PNG files
        out_all = os.path.join(work, 'test_logits.safetensors')
        allpngs = [os.path.join(work, 'test', r['image']) for r in recs_te]
        tc.run([vitrun, 'run', module, '--weights', wpath] + allpngs + ['-o', out_all])
        vl = torch.from_numpy(np.asarray(refcommon.load_safetensors(out_all)['logits']))
        metrics_vitrun = group_metrics(vl.argmax(1), yte, gte)
        err_all = tc.max_rel(vl.numpy(), logits_te.numpy())
        model.float()
        total = time.time() - t_start
        print('vitrun vs PyTorch (float64), logits of %d test images: from the tensor %.2e, from the PNG files %.2e; '
              'whole test split vs PyTorch float32 %.2e' % (ncheck, err_tensor, err_png, err_all))
        print('test (balanced, %d): average %.2f %%, worst group %.2f %% (%s), gap %.2f points; groups %s' % (
            len(yte), metrics['average_accuracy'], metrics['worst_group_accuracy'], metrics['worst_group'],
            metrics['gap'], dict(metrics['group_accuracy'])))
        print('through vitrun: average %.2f %%, worst group %.2f %%' % (
            metrics_vitrun['average_accuracy'], metrics_vitrun['worst_group_accuracy']))
        print('time: data %.0f s, training %.0f s, total %.0f s' % (t_data, t_train, total))

        info = OrderedDict()
        info['model'] = 'timm deit_tiny_patch16_224 architecture, small configuration, trained from scratch'
        info['spec'] = SPEC
        info['set'] = VALUES
        info['vitc'] = 'vitc compile %s -o deit_toy.vitm %s' % (SPEC, ' '.join(sets))
        info['vitrun'] = 'vitrun run deit_toy.vitm --weights examples/toy/deit_toy.safetensors IMAGE.png...'
        info['classes'] = ['A (red, yellow, blue, white objects)', 'B (orange, green, purple, black objects)']
        info['preprocess'] = ('the spec\'s own (timm eval transform): bicubic resize 64 -> 71 (floor(64 / 0.9)), centre '
                              'crop 64 at offset 4, ImageNet mean / std; training used the same view')
        info['data'] = OrderedDict([
            ('train', 'vitrun ' + ' '.join(gen_train) + ' -o train'),
            ('test', 'vitrun ' + ' '.join(gen_test) + ' -o test'),
            ('train_groups', torch.bincount(gtr, minlength=4).tolist()),
            ('test_groups', torch.bincount(gte, minlength=4).tolist()),
            ('groups', GROUPS),
        ])
        info['training'] = OrderedDict([
            ('command', 'python3 tests/reference/toy_train.py'),
            ('optimizer', 'AdamW, weight decay 0.05, one-cycle lr, max %g' % a.lr),
            ('epochs', a.epochs), ('batch', a.batch), ('seed', 0), ('threads', 2), ('augmentation', 'none'),
            ('torch', torch.__version__), ('timm', timm.__version__),
            ('seconds', OrderedDict([('data', round(t_data)), ('training', round(t_train)), ('total', round(total))])),
        ])
        info['metrics'] = OrderedDict([('test_balanced', metrics), ('test_balanced_vitrun', metrics_vitrun),
                                       ('train_spurious', train_metrics)])
        info['check'] = OrderedDict([
            ('images', ncheck),
            ('logits_max_rel_err_tensor', float('%.3g' % err_tensor)),
            ('logits_max_rel_err_png', float('%.3g' % err_png)),
            ('reference', 'timm forward in float64 on the same weights; max |a - b| / max |b|'),
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
