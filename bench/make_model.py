#!/usr/bin/env python3
"""Build a timm model (default vit_base_patch16_224; --arch NAME, --img SIZE)
with seeded random weights (FP32) and write

  WORK/weights.safetensors   timm state_dict names, safetensors layout
  WORK/model.onnx            torch.onnx.export, dynamic batch axis
  WORK/check_input.bin       float32 [2,3,S,S] seeded input
  WORK/check_input.safetensors  the same, as tensor 'input'
  WORK/check_logits.bin      float32 [2,1000] PyTorch logits for it
  WORK/model.json            what was built (seed, names, sizes, versions,
                             GFLOP per image, and the export error if any)

If torch.onnx.export fails, model.onnx is not written and model.json says
why ("onnx_error"); the other files are still written.

GFLOP per image: 2 x the multiply-adds of every linear, convolution and
matrix product the PyTorch forward pass calls (counted with a
TorchFunctionMode over F.linear, F.conv2d, torch.matmul / @, bmm, baddbmm,
einsum), batch 1; elementwise work, norms and softmax are not counted.
ViT-B/16 at 224 gives 35.13.

timm is imported from PYTHONPATH (a timm source checkout works). Needs torch
(Debian python3-torch 1.13 works). The `onnx` Python package must not be
importable for torch 1.13's exporter here, so it is hidden from this process.
"""
import argparse
import json
import os
import struct
import sys

# torch 1.13's exporter takes a different (broken here) path when `onnx`
# imports; hide it.
sys.modules["onnx"] = None

import numpy as np  # noqa: E402
import torch  # noqa: E402

ARCH = "vit_base_patch16_224"
IMG = 224
NUM_CLASSES = 1000
FORMAT_VERSION = 2  # bump when the outputs change meaning


def import_timm():
    try:
        import timm
    except ImportError:
        sys.exit("make_model: cannot import timm; set PYTHONPATH to a timm "
                 "source checkout (pytorch-image-models)")
    return timm


def default_img(arch):
    """The image size timm builds the arch at (518 for DINOv2, else 224)."""
    return 518 if "dinov2" in arch else 224


def create(arch, img, **kw):
    """timm model for arch at img px; img_size is passed only when it differs
    from the arch's own (MaxViT and Swin take it too, but need not)."""
    timm = import_timm()
    if img != default_img(arch):
        kw["img_size"] = img
    return timm.create_model(arch, pretrained=False, num_classes=NUM_CLASSES, **kw)


def build_model(seed, arch=ARCH, img=IMG):
    timm = import_timm()
    torch.manual_seed(seed)
    model = create(arch, img)
    return model.eval().float(), timm.__version__


def count_gflop(model, x):
    """2 x multiply-adds of linear / conv / matmul calls in one forward of x
    (batch 1), in GFLOP."""
    from torch.overrides import TorchFunctionMode
    import torch.nn.functional as F
    total = [0]

    def mm_macs(a, b):
        a, b = list(a.shape), list(b.shape)
        if len(a) == 1:
            a = [1] + a
        if len(b) == 1:
            b = b + [1]
        batch = torch.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
        n = 1
        for d in batch:
            n *= d
        return n * a[-2] * a[-1] * b[-1]

    class Counter(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is F.linear:
                inp, w = args[0], args[1] if len(args) > 1 else kwargs["weight"]
                total[0] += inp.numel() // inp.shape[-1] * w.shape[0] * w.shape[1]
            elif func in (F.conv2d, F.conv1d):
                out = func(*args, **kwargs)
                w = args[1] if len(args) > 1 else kwargs["weight"]
                k = 1
                for d in w.shape[1:]:
                    k *= d
                total[0] += out.numel() * k
                return out
            elif func in (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__,
                          torch.bmm, torch.Tensor.bmm):
                total[0] += mm_macs(args[0], args[1])
            elif func in (torch.baddbmm, torch.Tensor.baddbmm):
                total[0] += mm_macs(args[1], args[2])
            elif func is torch.einsum:
                out = func(*args, **kwargs)
                ops = args[1:] if len(args) > 2 or not isinstance(args[1], (list, tuple)) else args[1]
                eq = args[0].replace(" ", "")
                lhs = eq.split("->")[0].split(",")
                dims = {}
                for sub, t in zip(lhs, ops):
                    for c, d in zip(sub, t.shape):
                        dims[c] = d
                m = 1
                for d in dims.values():
                    m *= d
                total[0] += m
                return out
            return func(*args, **kwargs)

    with torch.no_grad(), Counter():
        model(x)
    return round(2 * total[0] / 1e9 / x.shape[0], 2)


_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.int32: "I32"}


def write_safetensors(path, tensors, metadata=None):
    """safetensors by hand: u64 LE header length, JSON header, raw data."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes()  # little-endian on x86
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((-len(hj)) % 8)  # data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    return off


def read_safetensors(path):
    """Inverse of write_safetensors (F32 only); returns {name: torch.Tensor}."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if info["dtype"] != "F32":
                raise ValueError(f"{name}: dtype {info['dtype']} not supported")
            b, e = info["data_offsets"]
            f.seek(base + b)
            arr = np.frombuffer(f.read(e - b), dtype="<f4").reshape(info["shape"])
            out[name] = torch.from_numpy(arr.copy())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "scratch"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument("--arch", default=ARCH, help="timm model name")
    ap.add_argument("--img", type=int, default=None, help="image size (default: the arch's)")
    args = ap.parse_args()
    arch = args.arch
    img = args.img or default_img(arch)

    os.makedirs(args.work, exist_ok=True)
    info_path = os.path.join(args.work, "model.json")
    want = {"arch": arch, "img_size": img, "seed": args.seed, "opset": args.opset,
            "format_version": FORMAT_VERSION}
    outs = ["weights.safetensors", "check_input.bin", "check_input.safetensors",
            "check_logits.bin"]
    if not args.force and os.path.exists(info_path) and \
            all(os.path.exists(os.path.join(args.work, o)) for o in outs):
        with open(info_path) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()) and \
                (have.get("onnx_error") or os.path.exists(os.path.join(args.work, "model.onnx"))):
            print(f"make_model: {args.work} is up to date (seed {args.seed})")
            return

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, timm_version = build_model(args.seed, arch, img)
    # BatchNorm's num_batches_tracked (int64) plays no part in eval: left out
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    n_params = sum(t.numel() for t in sd.values())
    wpath = os.path.join(args.work, "weights.safetensors")
    nbytes = write_safetensors(wpath, sd, {"format": "pt", "arch": arch, "seed": args.seed})

    # round-trip check of the hand-written file
    back = read_safetensors(wpath)
    assert set(back) == set(sd), "safetensors round trip: names differ"
    for k, v in sd.items():
        assert torch.equal(back[k], v), f"safetensors round trip: {k} differs"

    g = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(2, 3, img, img, generator=g)
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(args.work, "check_input.bin"))
    write_safetensors(os.path.join(args.work, "check_input.safetensors"), {"input": x})
    y.numpy().astype("<f4").tofile(os.path.join(args.work, "check_logits.bin"))

    gflop = count_gflop(model, x[:1])

    opath = os.path.join(args.work, "model.onnx")
    onnx_error = None
    if os.path.exists(opath):
        os.remove(opath)
    try:
        with torch.no_grad():
            torch.onnx.export(model, x[:1], opath + ".tmp", input_names=["input"],
                              output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                              opset_version=args.opset, do_constant_folding=True)
        os.replace(opath + ".tmp", opath)
    except Exception as e:  # reported, not fatal: the other tools still run
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
        onnx_error = f"{type(e).__name__}: {msg}"[:300]
        if os.path.exists(opath + ".tmp"):
            os.remove(opath + ".tmp")
        print(f"make_model: ONNX export failed: {onnx_error}", file=sys.stderr)

    info = dict(want)
    info.update({"timm": timm_version, "torch": torch.__version__,
                 "params": n_params, "weight_bytes": nbytes,
                 "tensors": len(sd), "num_classes": NUM_CLASSES,
                 "check_input_shape": [2, 3, img, img],
                 "check_logits_shape": [2, NUM_CLASSES],
                 "gflop_per_image": gflop, "onnx_error": onnx_error,
                 "onnx_bytes": os.path.getsize(opath) if not onnx_error else None})
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1)
    print(f"make_model: wrote {args.work}: {n_params} params, "
          f"{nbytes / 2**20:.1f} MiB weights, {gflop} GFLOP/image, "
          + (f"onnx {info['onnx_bytes'] / 2**20:.1f} MiB" if not onnx_error else "no onnx"))


if __name__ == "__main__":
    main()
