#!/usr/bin/env python3
"""embed-text throughput: vitrun beside PyTorch (OpenCLIP) in one invocation.

Workload: CLIP's zero-shot classifier for ImageNet — 1,000 class names x 80
prompt templates (../shared/data/clip/imagenet_classes.txt and
imagenet_templates.txt) through OpenCLIP's ViT-B-16 text tower (seeded random
weights, FP32), with the real BPE vocabulary: tokenize, encode, L2-normalise
each template's embedding, average, normalise.  Both tools get the same
classes and templates; each round times both on the same slice of classes,
alternating which goes first.

    PYTHONPATH=<timm>:<open_clip>/src python3 bench/text/run.py [--classes N] [--rounds R] [--threads T]

--classes N (default 1000) measures the first N classes (N x 80 sequences) per
round and tool; the throughput (sequences/s) is what the table reports, with
the time the whole 80,000-sequence job takes at that rate.  vitrun's time is
the wall time of `vitrun embed-text` minus the wall time of the same command
on one class and one template (module load, binding and JIT, measured in the
same round); PyTorch's is measured inside the process around tokenization,
encode_text and the averaging (model construction excluded).  The first round
also checks that the two classifiers agree.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'reference'))
import refcommon as rc  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DATA = os.path.join(ROOT, '..', 'shared', 'data', 'clip')


def lines(path):
    with open(path) as f:
        return [l.rstrip('\n') for l in f if l.strip()]


def prepare(work, vitc):
    oc = rc.import_open_clip()
    weights = os.path.join(work, 'text_b16.safetensors')
    module = os.path.join(work, 'text_b16.vitm')
    torch.manual_seed(0)
    model = oc.create_model('ViT-B-16-quickgelu', pretrained=None)  # the spec's: QuickGELU (OpenAI weights)
    model.eval()
    if not os.path.exists(weights):
        sd = {k: v for k, v in model.state_dict().items() if not k.startswith('visual.')}
        rc.save_safetensors(weights, sd)
    if not os.path.exists(module):
        subprocess.run([vitc, 'compile', os.path.join(ROOT, 'archs', 'openclip_vit_b_16_quickgelu_text.vit'), '-o', module], check=True)
    return model, weights, module


def vitrun_time(vitrun, module, weights, vocab, classes_file, templates_file, out, threads):
    t = time.perf_counter()
    subprocess.run([vitrun, 'embed-text', module, '--weights', weights, '--vocab', vocab, '--file', classes_file,
                    '--templates', templates_file, '--threads', str(threads), '-o', out],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


@torch.no_grad()
def torch_time(model, tok, classes, templates):
    t = time.perf_counter()
    rows = []
    for c in classes:
        ids = tok([tpl.replace('{}', c) for tpl in templates])
        e = F.normalize(model.encode_text(ids), dim=-1).mean(dim=0)
        rows.append(e / e.norm())
    out = torch.stack(rows)
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--classes', type=int, default=1000)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--work', default=os.path.join(ROOT, 'bench', 'scratch', 'text'))
    ap.add_argument('--json', default=None, help='write the figures here')
    ap.add_argument('--markdown', default=os.path.join(ROOT, 'BENCHMARKS.md'), help="its section 'text' is rewritten")
    ap.add_argument('--no-markdown', action='store_true')
    ap.add_argument('--markdown-only', metavar='JSON', help='only rewrite the section from a --json file')
    a = ap.parse_args()
    if a.markdown_only:
        with open(a.markdown_only) as f:
            out = json.load(f)
        a.classes, a.rounds, a.threads = out['args']['classes'], out['rounds'], out['threads']
        write_markdown(a, out, out['runs_s'], out['sequences'])
        return
    build = os.environ.get('BUILD', os.path.join(ROOT, 'build'))
    vitc, vitrun = os.path.join(build, 'vitc'), os.path.join(build, 'vitrun')
    os.makedirs(a.work, exist_ok=True)
    torch.set_num_threads(a.threads)
    classes, templates = lines(os.path.join(DATA, 'imagenet_classes.txt')), lines(os.path.join(DATA, 'imagenet_templates.txt'))
    vocab = os.path.join(DATA, 'bpe_simple_vocab_16e6.txt.gz')
    model, weights, module = prepare(a.work, vitc)
    from open_clip.tokenizer import SimpleTokenizer
    tok = SimpleTokenizer(bpe_path=vocab)
    sub = classes[:a.classes]
    cf, tf, one = (os.path.join(a.work, n) for n in ('classes.txt', 'templates.txt', 'one.txt'))
    with open(cf, 'w') as f:
        f.write('\n'.join(sub) + '\n')
    with open(tf, 'w') as f:
        f.write('\n'.join(templates) + '\n')
    with open(one, 'w') as f:
        f.write(sub[0] + '\n')
    oneT = os.path.join(a.work, 'one_template.txt')
    with open(oneT, 'w') as f:
        f.write(templates[0] + '\n')
    nseq = len(sub) * len(templates)
    res = {'ours': [], 'torch': [], 'startup': []}
    for r in range(a.rounds):
        order = ('ours', 'torch') if r % 2 == 0 else ('torch', 'ours')
        for tool in order:
            if tool == 'ours':
                st = vitrun_time(vitrun, module, weights, vocab, one, oneT, os.path.join(a.work, 'one.safetensors'), a.threads)
                wall = vitrun_time(vitrun, module, weights, vocab, cf, tf, os.path.join(a.work, 'ours.safetensors'), a.threads)
                res['startup'].append(st)
                res['ours'].append(wall - st)
            else:
                dt, ref = torch_time(model, tok, sub, templates)
                res['torch'].append(dt)
        print('round %d: vitrun %.1f s (+%.1f s start), PyTorch %.1f s for %d sequences; load %.2f' %
              (r + 1, res['ours'][-1], res['startup'][-1], res['torch'][-1], nseq, os.getloadavg()[0]), flush=True)
        if r == 0:
            ours = rc.load_safetensors(os.path.join(a.work, 'ours.safetensors'))['embeddings']
            diff = float(np.abs(np.asarray(ours) - ref.numpy()).max())
            print('max |vitrun - PyTorch| over the classifier rows: %.3g' % diff, flush=True)
            res['max_abs_diff'] = diff
    med = {k: float(np.median(v)) for k, v in res.items() if isinstance(v, list)}
    out = {
        'workload': '%d classes x %d templates = %d sequences (of the 1000 x 80 job)' % (len(sub), len(templates), nseq),
        'threads': a.threads, 'rounds': a.rounds, 'sequences': nseq, 'args': {'classes': a.classes},
        'commit': subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        'vitrun_seq_per_s': nseq / med['ours'], 'torch_seq_per_s': nseq / med['torch'],
        'ratio_torch_over_vitrun_time': med['torch'] / med['ours'],
        'vitrun_startup_s': med['startup'],
        'full_job_s': {'vitrun': 80000 / (nseq / med['ours']) + med['startup'], 'torch': 80000 / (nseq / med['torch'])},
        'runs_s': res, 'cpu': rc_cpu(), 'loadavg_end': os.getloadavg(),
    }
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(out, f, indent=1)
    if not a.no_markdown:
        write_markdown(a, out, res, nseq)


def write_markdown(a, out, res, nseq):
    sys.path.insert(0, os.path.dirname(HERE))
    from mdsplice import splice
    load = out['loadavg_end'][0]
    busy = load > 1.5
    cmd = 'python3 bench/text/run.py --classes %d --rounds %d --threads %d' % (a.classes, a.rounds, a.threads)
    git = out.get('commit') or '?'
    L = ['## Text embeddings: vitrun embed-text beside OpenCLIP', '',
         "CLIP's zero-shot classifier job for ImageNet — 1,000 class names x 80 prompt templates = 80,000 sequences — "
         "through OpenCLIP's ViT-B-16 (QuickGELU) text tower, seeded random weights, FP32, the real BPE vocabulary; "
         'both tools tokenize, encode, normalise, average per class and normalise. Measured on the first %d classes '
         '(%d sequences) per round, tools alternated; the full job time is extrapolated from the rate.' % (a.classes, nseq), '',
         '- Command: `%s` (PYTHONPATH: timm and open_clip/src checkouts); vitrun built from %s; %d threads each' % (cmd, git, a.threads),
         '- Machine: 2 cores, %s; load average %.1f at the end%s' % (out['cpu'], load,
                                                                  ' (busy: other jobs were running, read the ratio only)' if busy else ''),
         '- vitrun and PyTorch classifier rows agree to %.2g (max abs difference)' % res.get('max_abs_diff', float('nan')), '',
         '| tool | sequences/s (median of %d) | whole 80,000-sequence job | ratio (PyTorch time / vitrun time) |' % a.rounds,
         '|---|---|---|---|',
         '| vitrun | %.1f | %.0f s (incl. %.1f s start) | %.2f |' % (out['vitrun_seq_per_s'], out['full_job_s']['vitrun'],
                                                              out['vitrun_startup_s'], out['ratio_torch_over_vitrun_time']),
         '| PyTorch (OpenCLIP) | %.1f | %.0f s | 1 |' % (out['torch_seq_per_s'], out['full_job_s']['torch'])]
    splice(a.markdown, 'text', '\n'.join(L))


def rc_cpu():
    try:
        with open('/proc/cpuinfo') as f:
            for l in f:
                if l.startswith('model name'):
                    return l.split(':', 1)[1].strip()
    except OSError:
        pass
    return ''


if __name__ == '__main__':
    main()
