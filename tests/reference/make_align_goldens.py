"""Goldens for the scoring function and TextSpan (tests/test_align.c) from the
paper's reference code: helpers/decompose_utils.py: variance_attributed,
variance_explained and
helpers/interpret_utils.py: replace_with_iterative_removal, on seeded random
data.  Run with the reference repository on PYTHONPATH:

    PYTHONPATH=REF python3 tests/reference/make_align_goldens.py

(REF: a checkout of SriramB-98/vit-decompose).  Writes
tests/golden_align/score_textspan.safetensors."""
import os
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refcommon import save_safetensors  # noqa: E402

# interpret_utils imports model_utils, which imports clip / open_clip: neither is used here
for name in ('clip', 'open_clip'):
    sys.modules.setdefault(name, types.ModuleType(name))
try:
    import einops  # noqa: F401
except ImportError:  # only its repeat("A B -> (C A) B") is used, for a reconstruction we do not read
    einops = types.ModuleType('einops')
    einops.repeat = lambda x, pattern, C: x.repeat(C, 1)
    sys.modules['einops'] = einops
_no_grad = torch.no_grad  # torch 1.13: no_grad is not usable as a bare decorator (@torch.no_grad)


def _no_grad_any(fn=None):
    return _no_grad()(fn) if callable(fn) else _no_grad()


torch.no_grad = _no_grad_any
from helpers.decompose_utils import variance_attributed, variance_explained  # noqa: E402
from helpers.interpret_utils import replace_with_iterative_removal  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'golden_align', 'score_textspan.safetensors')


def main():
    rng = np.random.default_rng(7)
    n, ncomp, e, k, t = 40, 5, 12, 3, 9
    # components with different amounts of variance along the feature's directions
    aligned = rng.standard_normal((n, ncomp, e)).astype(np.float32)
    aligned[:, 0, :] *= 0.2
    aligned[:, 1, :3] *= 4
    desc = rng.standard_normal((k, e)).astype(np.float32)
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    score = variance_attributed(torch.from_numpy(aligned).transpose(0, 1).double(), torch.from_numpy(desc).double())
    explained = variance_explained(torch.from_numpy(aligned).transpose(0, 1).double(), torch.from_numpy(desc).double())
    texts = rng.standard_normal((t, e)).astype(np.float32)
    data = torch.from_numpy(aligned[:, 1, :] + 0.5)  # float32, as the reference's text features after projection
    picks, stds = {}, {}
    for rank in (4, e):
        _, res, sd = replace_with_iterative_removal(data, texts, list(range(t)), 5, rank, 'cpu')
        picks[rank] = np.array(res, dtype=np.float32)
        stds[rank] = np.array(sd, dtype=np.float32)
    save_safetensors(OUT, {
        'aligned': aligned, 'desc': desc, 'score': score.numpy().astype(np.float32),
        'explained': explained.numpy().astype(np.float32), 'texts': texts,
        'pick_rank4': picks[4], 'std_rank4': stds[4], 'pick_full': picks[e], 'std_full': stds[e],
    })
    print('wrote', OUT, 'score', score.numpy(), 'explained', explained.numpy(), 'picks', picks[4], picks[e])


if __name__ == '__main__':
    main()
