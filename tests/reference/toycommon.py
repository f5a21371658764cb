"""Helpers shared by the toy-world training scripts (toy_train.py, toy_clip.py,
toy_swin.py): the tools from build/, subprocess runs, data generation, the
agreement measure."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

import refcommon

REPO = refcommon.REPO_ROOT
SHAPES = ['circle', 'square', 'triangle', 'diamond', 'star', 'cross']
COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'white', 'black']
PATTERNS = ['plain', 'striped', 'dotted', 'checkered']
BACKGROUNDS = ['sky', 'grass', 'water', 'sand']


def tool(name):
    """vitc / vitrun: $VITC / $VITRUN, else build/ of this checkout"""
    return os.environ.get(name.upper(), os.path.join(REPO, 'build', name))


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.exit('failed (%d): %s\n%s' % (r.returncode, ' '.join(cmd), r.stdout))
    return r.stdout


def generate(work, gens):
    """run `vitrun toyworld generate` for each {name: arguments}, into work/name"""
    for name, g in gens.items():
        d = os.path.join(work, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        run([tool('vitrun')] + g + ['-o', d])


def load_split(d, transform):
    """the records of labels.jsonl and the images through `transform`, stacked"""
    from PIL import Image
    recs = [json.loads(line) for line in open(os.path.join(d, 'labels.jsonl'))]
    xs = []
    for r in recs:
        with Image.open(os.path.join(d, r['image'])) as im:
            xs.append(transform(im.convert('RGB')))
    return recs, torch.stack(xs)


def set_args(values):
    """vitc's --set arguments for an ordered {name: value}"""
    out = []
    for k, v in values.items():
        out += ['--set', '%s=%d' % (k, v)]
    return out


def max_rel(a, b):
    """max |a - b| / max |b|"""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
