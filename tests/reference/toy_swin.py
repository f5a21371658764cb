"""A tiny Swin Transformer trained to classify one attribute of the toy world's
objects (default: the colour).

    python3 tests/reference/toy_swin.py [--attribute A] [--work DIR] [--epochs E] [--train N] [--test N]

1. `vitrun toyworld generate` makes a training and a test split (uniform
   attributes, 64 px PNGs); the label is one attribute: colour (8 classes,
   the default), shape, pattern or background.
2. Each image goes through the eval transform of
   archs/swin_tiny_patch4_window7_224.vit (timm's: bicubic resize of the
   shorter side to floor(64 / 0.9) = 71, centre crop 64, ImageNet mean / std)
   -- the view `vitrun run` gives the model.  The generator keeps every object
   4 px inside the border, so the crop never cuts it.
3. timm's `swin_tiny_patch4_window7_224` at a small configuration (image 64,
   patch 4, width 32, 4 x 4 windows, stages of 2, 2, 2, 1 blocks with 1, 2, 4,
   8 heads, one class per value) is trained from scratch with AdamW and the
   cross entropy, fixed seeds, 1 thread; horizontal flips as augmentation
   (they keep every attribute's name: each shape is symmetric about its
   vertical axis, stripes stay stripes).
4. Accuracy on the test split, overall and per class.
5. The weights go to examples/toy/swin_toy.safetensors under timm's names; the
   spec's --set overrides, the commands and the metrics to
   examples/toy/swin_toy.json.
6. vitc compiles the spec with those overrides and vitrun runs it on the test
   images, from the preprocessed tensors (--tensor) and from the PNG files;
   both must match PyTorch to 1e-4 (max |a - b| / max |b| over the logits),
   and vitrun's accuracy over the whole test split must equal PyTorch's.

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

SPEC = 'archs/swin_tiny_patch4_window7_224.vit'
TIMM_NAME = 'swin_tiny_patch4_window7_224'
VALUES = OrderedDict([('size', 64), ('patch', 4), ('dim', 32), ('window', 4), ('classes', 4),
                      ('depth0', 2), ('depth1', 2), ('depth2', 2), ('depth3', 1),
                      ('heads0', 1), ('heads1', 2), ('heads2', 4), ('heads3', 8)])
TRAIN_SEED, TEST_SEED = 21, 22
ATTRIBUTES = OrderedDict([('shape', tc.SHAPES), ('colour', tc.COLOURS), ('pattern', tc.PATTERNS),
                          ('background', tc.BACKGROUNDS)])


def create(timm):
    v = VALUES
    return timm.create_model(TIMM_NAME, pretrained=False, img_size=v['size'], patch_size=v['patch'],
                             embed_dim=v['dim'], window_size=v['window'], num_classes=v['classes'],
                             depths=tuple(v['depth%d' % s] for s in range(4)),
                             num_heads=tuple(v['heads%d' % s] for s in range(4)))


def accuracy(pred, y, classes):
    per = OrderedDict()
    for k, name in enumerate(classes):
        m = y == k
        per[name] = round(100.0 * float((pred[m] == y[m]).float().mean()), 2)
    return round(100.0 * float((pred == y).float().mean()), 2), per


def predict(model, x, bs=250):
    with torch.no_grad():
        return torch.cat([model(x[i:i + bs]) for i in range(0, len(x), bs)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', help='keep the data sets and modules here (default: a temporary directory)')
    ap.add_argument('--train', type=int, default=4000)
    ap.add_argument('--test', type=int, default=1000)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--threads', type=int, default=1,
                    help='1: on a shared machine two threads ran slower than one')
    ap.add_argument('--attribute', choices=list(ATTRIBUTES), default='colour', help='what the classes are')
    ap.add_argument('--out', default=os.path.join(tc.REPO, 'examples', 'toy'))
    a = ap.parse_args()
    attr, classes = a.attribute, ATTRIBUTES[a.attribute]
    VALUES['classes'] = len(classes)
    t_start = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    np.random.seed(0)
    timm = refcommon.import_timm()
    work = a.work or tempfile.mkdtemp(prefix='toy_swin_')
    os.makedirs(work, exist_ok=True)
    vitrun, vitc = tc.tool('vitrun'), tc.tool('vitc')
    try:
        # 1. data, 2. the spec's eval transform
        gens = OrderedDict()
        gens['train'] = ['toyworld', 'generate', '--seed', str(TRAIN_SEED), '--count', str(a.train), '--size', '64']
        gens['test'] = ['toyworld', 'generate', '--seed', str(TEST_SEED), '--count', str(a.test), '--size', '64']
        tc.generate(work, gens)
        model = create(timm)
        cfg = timm.data.resolve_data_config({'input_size': (3, 64, 64)}, model=model)
        assert abs(cfg['crop_pct'] - 0.9) < 1e-9 and cfg['interpolation'] == 'bicubic', cfg
        transform = timm.data.create_transform(**cfg)
        recs_tr, xtr = tc.load_split(os.path.join(work, 'train'), transform)
        recs_te, xte = tc.load_split(os.path.join(work, 'test'), transform)
        ytr = torch.tensor([classes.index(r[attr]) for r in recs_tr])
        yte = torch.tensor([classes.index(r[attr]) for r in recs_te])
        t_data = time.time() - t_start
        print('data: %d train, %d test, %.0f s' % (len(ytr), len(yte), t_data), flush=True)

        # 3. training
        torch.manual_seed(0)
        model = create(timm)
        nparams = sum(p.numel() for p in model.parameters())
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.05)
        steps = a.epochs * (len(ytr) // a.batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.1)
        gen = torch.Generator().manual_seed(0)
        t0 = time.time()
        for ep in range(a.epochs):
            model.train()
            perm = torch.randperm(len(ytr), generator=gen)
            tot, n = 0.0, 0
            for i in range(0, len(perm) - a.batch + 1, a.batch):
                idx = perm[i:i + a.batch]
                x = xtr[idx]
                flip = torch.rand(len(idx), generator=gen) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
                loss = F.cross_entropy(model(x), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                tot += float(loss) * len(idx)
                n += len(idx)
            model.eval()
            acc, _ = accuracy(predict(model, xte).argmax(1), yte, classes)
            print('epoch %d: loss %.4f, test accuracy %.2f %%, %.0f s' % (ep + 1, tot / n, acc, time.time() - t0),
                  flush=True)
        t_train = time.time() - t0
        model.eval()
        logits_te = predict(model, xte)
        acc, per_class = accuracy(logits_te.argmax(1), yte, classes)

        # 4. weights under timm's names
        os.makedirs(a.out, exist_ok=True)
        wpath = os.path.join(a.out, 'swin_toy.safetensors')
        sd = model.state_dict()
        refcommon.save_safetensors(wpath, OrderedDict((k, sd[k]) for k in sd),
                                   metadata={'format': 'pt', 'model': 'timm %s, small configuration' % TIMM_NAME})

        # 5. vitc / vitrun against PyTorch
        sets = tc.set_args(VALUES)
        module = os.path.join(work, 'swin_toy.vitm')
        tc.run([vitc, 'compile', os.path.join(tc.REPO, SPEC), '-o', module] + sets)
        ncheck = 8
        tpath = os.path.join(work, 'check_input.safetensors')
        refcommon.save_safetensors(tpath, OrderedDict([('image', xte[:ncheck])]))
        out_t = os.path.join(work, 'check_tensor.safetensors')
        tc.run([vitrun, 'run', module, '--weights', wpath, '--tensor', tpath, '-o', out_t])
        m64 = model.double()
        with torch.no_grad():
            ref_t = m64(xte[:ncheck].double()).numpy()
        err_tensor = tc.max_rel(refcommon.load_safetensors(out_t)['logits'], ref_t)
        pngs = [os.path.join(work, 'test', r['image']) for r in recs_te]
        out_all = os.path.join(work, 'test_logits.safetensors')
        tc.run([vitrun, 'run', module, '--weights', wpath] + pngs + ['-o', out_all])
        vl = torch.from_numpy(np.asarray(refcommon.load_safetensors(out_all)['logits']))
        err_png = tc.max_rel(vl[:ncheck].numpy(), ref_t)
        acc_v, per_class_v = accuracy(vl.argmax(1), yte, classes)
        err_all = tc.max_rel(vl.numpy(), logits_te.numpy())
        model.float()
        total = time.time() - t_start
        print('vitrun vs PyTorch (float64), logits of %d test images: from the tensor %.2e, from the PNG files %.2e; '
              'whole test split vs PyTorch float32 %.2e' % (ncheck, err_tensor, err_png, err_all))
        print('test accuracy (%d images): PyTorch %.2f %%, vitrun %.2f %%; per class %s' % (
            len(yte), acc, acc_v, dict(per_class)))
        print('time: data %.0f s, training %.0f s, total %.0f s' % (t_data, t_train, total))

        info = OrderedDict()
        info['model'] = 'timm %s architecture, small configuration, trained from scratch' % TIMM_NAME
        info['spec'] = SPEC
        info['set'] = VALUES
        info['vitc'] = 'vitc compile %s -o swin_toy.vitm %s' % (SPEC, ' '.join(sets))
        info['vitrun'] = 'vitrun run swin_toy.vitm --weights examples/toy/swin_toy.safetensors IMAGE.png...'
        info['parameters'] = nparams
        info['attribute'] = attr
        info['classes'] = classes
        info['preprocess'] = ('the spec\'s own (timm eval transform): bicubic resize 64 -> 71 (floor(64 / 0.9)), centre '
                              'crop 64 at offset 4, ImageNet mean / std; training used the same view')
        info['data'] = OrderedDict((k, 'vitrun ' + ' '.join(g) + ' -o ' + k) for k, g in gens.items())
        info['training'] = OrderedDict([
            ('command', 'python3 tests/reference/toy_swin.py --attribute %s' % attr),
            ('loss', 'cross entropy on the %s' % attr),
            ('optimizer', 'AdamW, weight decay 0.05, one-cycle lr, max %g' % a.lr),
            ('epochs', a.epochs), ('batch', a.batch), ('train_images', a.train), ('seed', 0), ('threads', a.threads),
            ('augmentation', 'horizontal flip (p = 0.5)'),
            ('torch', torch.__version__), ('timm', timm.__version__),
            ('seconds', OrderedDict([('data', round(t_data)), ('training', round(t_train)), ('total', round(total))])),
        ])
        info['metrics'] = OrderedDict([
            ('test_accuracy', acc), ('test_accuracy_vitrun', acc_v),
            ('per_class', per_class), ('per_class_vitrun', per_class_v), ('chance', round(100 / len(classes), 2)),
        ])
        info['check'] = OrderedDict([
            ('images', ncheck),
            ('logits_max_rel_err_tensor', float('%.3g' % err_tensor)),
            ('logits_max_rel_err_png', float('%.3g' % err_png)),
            ('logits_max_rel_err_test_split_vs_float32', float('%.3g' % err_all)),
            ('reference', 'timm forward in float64 on the same weights; max |a - b| / max |b|'),
            ('tolerance', 1e-4),
        ])
        refcommon.write_json(os.path.join(a.out, 'swin_toy.json'), info)
        if not (err_tensor <= 1e-4 and err_png <= 1e-4 and acc_v == acc):
            sys.exit('vitrun does not match PyTorch')
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
