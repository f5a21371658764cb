#!/usr/bin/env python3
"""Build timm vit_base_patch16_224 with seeded random weights (FP32) and write

  WORK/weights.safetensors   timm state_dict names, safetensors layout
  WORK/model.onnx            torch.onnx.export, dynamic batch axis
  WORK/check_input.bin       float32 [2,3,224,224] seeded input
  WORK/check_input.safetensors  the same, as tensor 'input'
  WORK/check_logits.bin      float32 [2,1000] PyTorch logits for it
  WORK/model.json            what was built (seed, names, sizes, versions)

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


def build_model(seed):
    timm = import_timm()
    torch.manual_seed(seed)
    model = timm.create_model(ARCH, pretrained=False, num_classes=NUM_CLASSES)
    return model.eval().float(), timm.__version__


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
    ap.add_argument("--work", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "work"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = ap.parse_args()

    os.makedirs(args.work, exist_ok=True)
    info_path = os.path.join(args.work, "model.json")
    want = {"arch": ARCH, "seed": args.seed, "opset": args.opset,
            "format_version": FORMAT_VERSION}
    outs = ["weights.safetensors", "model.onnx", "check_input.bin", "check_input.safetensors",
            "check_logits.bin"]
    if not args.force and os.path.exists(info_path) and \
            all(os.path.exists(os.path.join(args.work, o)) for o in outs):
        with open(info_path) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()):
            print(f"make_model: {args.work} is up to date (seed {args.seed})")
            return

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, timm_version = build_model(args.seed)
    sd = model.state_dict()
    n_params = sum(t.numel() for t in sd.values())
    wpath = os.path.join(args.work, "weights.safetensors")
    nbytes = write_safetensors(wpath, sd, {"format": "pt", "arch": ARCH, "seed": args.seed})

    # round-trip check of the hand-written file
    back = read_safetensors(wpath)
    assert set(back) == set(sd), "safetensors round trip: names differ"
    for k, v in sd.items():
        assert torch.equal(back[k], v), f"safetensors round trip: {k} differs"

    g = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(2, 3, IMG, IMG, generator=g)
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(args.work, "check_input.bin"))
    write_safetensors(os.path.join(args.work, "check_input.safetensors"), {"input": x})
    y.numpy().astype("<f4").tofile(os.path.join(args.work, "check_logits.bin"))

    opath = os.path.join(args.work, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, x[:1], opath + ".tmp", input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=args.opset, do_constant_folding=True)
    os.replace(opath + ".tmp", opath)

    info = dict(want)
    info.update({"timm": timm_version, "torch": torch.__version__,
                 "params": n_params, "weight_bytes": nbytes,
                 "tensors": len(sd), "img_size": IMG, "num_classes": NUM_CLASSES,
                 "check_input_shape": [2, 3, IMG, IMG],
                 "check_logits_shape": [2, NUM_CLASSES],
                 "onnx_bytes": os.path.getsize(opath)})
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1)
    print(f"make_model: wrote {args.work}: {n_params} params, "
          f"{nbytes / 2**20:.1f} MiB weights, onnx {info['onnx_bytes'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
