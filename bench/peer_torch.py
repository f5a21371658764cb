#!/usr/bin/env python3
"""PyTorch peer for the ViT benchmarks (eager, FP32, torch.no_grad).

  python3 peer_torch.py --weights scratch/weights.safetensors --batch B --threads T --runs R

Builds timm vit_base_patch16_224 (or --arch NAME at --img SIZE; timm from
PYTHONPATH), loads the weights
written by make_model.py, prints one JSON line of information ({"info": ...})
then one JSON line per run: {"ms_per_image": x}. The caller decides what counts
as warm-up.

OpenBLAS reads OPENBLAS_CORETYPE when it loads, so the variant with it unset
must be a separate process started with a different environment.

Debian's torch calls OpenBLAS (pthreads build) for its GEMMs, and
torch.set_num_threads does not reach OpenBLAS's own thread pool: without
OPENBLAS_NUM_THREADS it uses every core even at --threads 1. So the thread
count is set for OpenMP and OpenBLAS too, before torch is imported.
"""
import argparse
import ctypes
import json
import os
import struct
import sys
import time


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


os.environ["OMP_NUM_THREADS"] = _threads_from_argv()
os.environ["OPENBLAS_NUM_THREADS"] = _threads_from_argv()

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model import ARCH, NUM_CLASSES, create, default_img, import_timm  # noqa: E402


def openblas_corename():
    """Kernel family the loaded OpenBLAS picked (None if not OpenBLAS)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return (lib.openblas_get_corename().decode(), lib.openblas_get_config().decode(),
                lib.openblas_get_num_threads())
    except (OSError, AttributeError):
        return None, None, None


def load_into(model, path, arch=ARCH):
    """Read each tensor of the safetensors file straight into the model's own
    storage (no second copy of the weights in memory)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        state = {k: v for k, v in model.state_dict(keep_vars=True).items()
                 if not k.endswith("num_batches_tracked")}  # int64, unused in eval
        if set(state) != set(header):
            raise SystemExit(f"peer_torch: weights do not match {arch}: "
                             f"missing {sorted(set(state) - set(header))[:5]}, "
                             f"unexpected {sorted(set(header) - set(state))[:5]}")
        for name, info in header.items():
            t = state[name].data
            if info["dtype"] != "F32" or list(t.shape) != info["shape"] \
                    or t.dtype != torch.float32 or not t.is_contiguous():
                raise SystemExit(f"peer_torch: {name}: {info['dtype']} {info['shape']} "
                                 f"does not fit {t.dtype} {list(t.shape)}")
            b, e = info["data_offsets"]
            f.seek(8 + n + b)
            if f.readinto(memoryview(t.numpy()).cast("B")) != e - b:
                raise SystemExit(f"peer_torch: {name}: short read")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=os.path.join(here, "scratch", "weights.safetensors"))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--arch", default=ARCH, help="timm model name")
    ap.add_argument("--img", type=int, default=None, help="image size (default: the arch's)")
    ap.add_argument("--check", help="float32 [N,3,S,S] input file: print max |diff| vs --expect and exit")
    ap.add_argument("--expect", help="float32 [N,1000] expected logits for --check")
    args = ap.parse_args()
    IMG = args.img or default_img(args.arch)

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    timm = import_timm()
    t0 = time.perf_counter()
    # weight_init='skip': the weights are overwritten from the file below
    kw = {"weight_init": "skip"} if args.arch.startswith("vit_") else {}
    model = create(args.arch, IMG, **kw)
    load_into(model, args.weights, args.arch)
    model.eval()
    load_ms = (time.perf_counter() - t0) * 1e3
    core, config, blas_threads = openblas_corename()
    print(json.dumps({"info": {
        "runtime": "pytorch", "version": torch.__version__, "timm": timm.__version__,
        "threads": torch.get_num_threads(), "batch": args.batch, "load_ms": round(load_ms, 1),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "openblas_core": core, "openblas_config": config, "openblas_threads": blas_threads,
    }}), flush=True)

    if args.check:
        import numpy as np
        x = torch.from_numpy(np.fromfile(args.check, dtype="<f4").reshape(-1, 3, IMG, IMG))
        with torch.inference_mode():
            y = model(x).numpy()
        r = np.fromfile(args.expect, dtype="<f4").reshape(y.shape) if args.expect else y
        diff = float(np.abs(y - r).max())
        ok = diff <= 1e-3 * max(1.0, float(np.abs(r).max()))
        print(json.dumps({"check": {"batch": int(x.shape[0]), "max_abs_diff": diff, "ok": ok}}))
        sys.exit(0 if ok else 1)

    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, 3, IMG, IMG, generator=g)
    with torch.inference_mode():
        for _ in range(args.runs):
            s = time.perf_counter()
            y = model(x)
            ms = (time.perf_counter() - s) * 1e3
            assert y.shape == (args.batch, NUM_CLASSES)
            print(json.dumps({"ms_per_image": round(ms / args.batch, 3)}), flush=True)


if __name__ == "__main__":
    main()
