#!/usr/bin/env python3
"""ViT-B/16 benchmark: vitrun beside ONNX Runtime and PyTorch.

Usage (from anywhere; bench/run.sh picks a Python that has torch):

  bench/run.sh                         # full run: 4 workloads, 5 measured runs
  bench/run.sh --runs 3 --workloads 1x1,8x2 --no-markdown
  bench/run.sh --markdown-only bench/results/2025-01-01.json
  bench/run.sh --arch swin_tiny_patch4_window7_224 --runs 3   # another arch
  bench/run.sh --arch vit_base_patch14_dinov2 --size 224 --runs 3

With --arch NAME (a timm name with a spec archs/NAME.vit) other than the
default vit_base_patch16_224, the model files go to bench/scratch/NAME (or
NAME_SIZE when --size is not the arch's own), the workloads default to 1x2,8x2
and the tools to ours,ort,torch, the GFLOP per image is the one make_model.py
counted, vitrun's logits must match PyTorch's within 1e-4 of the largest, and
only the "families" section of BENCHMARKS.md is rewritten: one table per arch,
from the latest results file of each (bench/results/families.json lists them).
An ONNX export that fails is reported ("export failed: ...") and ONNX Runtime
is left out of that arch's table.

Steps: make the model files (make_model.py; timm from PYTHONPATH), install
onnxruntime-node (npm install --ignore-scripts) if missing, build the FMA peak
probe, compile the module with build/vitc if it can, then for each workload
(batch x threads) run the tools in turn, A B C A B C ..., each run a fresh
process doing `--warmup` discarded runs and then one measured run. A run taken
while other processes used more than --max-busy of the machine (from
/proc/stat, the child's own CPU time subtracted) is discarded and redone, at
most --retries times. Writes bench/results/<date>.json and BENCHMARKS.md at
the repo root.

Our tool is driven through
  vitrun bench MODULE --weights W --batch B --threads T --runs R
which prints one JSON line per run: {"ms_per_image": x}. If build/vitrun or
the module is missing (or the command fails) "ours" is skipped and reported as
not run.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

ARCH = "vit_base_patch16_224"
ARCH_FILE = os.path.join("archs", ARCH + ".vit")
GFLOP_PER_IMAGE = 35.13  # ViT-B/16 at 224: qkv 8.37, attn 1.43, proj 2.79, MLP 22.31, patch 0.23
GFLOP = GFLOP_PER_IMAGE  # per image, of the arch being measured
FAMILY_WORKLOADS = "1x2,8x2"
FAMILY_TOOLS = "ours,ort,torch"
FAMILY_TOL = 1e-4  # vitrun vs PyTorch logits, relative to the largest logit
DEFAULT_WORKLOADS = "1x1,8x1,1x2,8x2"  # batch x threads
CLK_TCK = os.sysconf("SC_CLK_TCK")

LABELS = {
    "ours": "vitrun",
    "ort": "ONNX Runtime",
    "torch": "PyTorch",
    "torch-alt": None,  # filled in from the environment
    "torch-passive": "PyTorch (OMP_WAIT_POLICY=PASSIVE)",
}


def rel(path):
    """Path relative to the repo root, for anything written to a file."""
    try:
        r = os.path.relpath(path, ROOT)
    except ValueError:
        return path
    return path if r.startswith("..") else r


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- machine

def read_cpu_times():
    with open("/proc/stat") as f:
        parts = f.readline().split()
    v = [int(x) for x in parts[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    idle = v[3] + v[4]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy, idle


def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "arch": platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            txt = f.read()
        first = txt.split("\n\n")[0]
        kv = {}
        for line in first.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                kv[k.strip()] = v.strip()
        info["cpu_model"] = kv.get("model name")
        info["cpu_vendor"] = kv.get("vendor_id")
        info["cpu_family"] = int(kv["cpu family"]) if "cpu family" in kv else None
        info["cpu_model_number"] = int(kv["model"]) if "model" in kv else None
        flags = kv.get("flags", "").split()
        info["avx512f"] = "avx512f" in flags
        info["hypervisor"] = "hypervisor" in flags
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return info


# ---------------------------------------------------------------- children

class Child:
    """One child process: output lines, exit status, peak RSS, CPU time, and
    the share of the machine that other processes used meanwhile."""

    def __init__(self, cmd, env=None, cwd=None, timeout=900):
        self.cmd = cmd
        out = tempfile.TemporaryFile(mode="w+")
        err = tempfile.TemporaryFile(mode="w+")
        b0, i0 = read_cpu_times()
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 env=env, cwd=cwd)
        except OSError as e:
            self.status, self.stdout, self.stderr = 127, "", str(e)
            self.rss_mib = self.cpu_s = self.wall_s = self.busy = None
            return
        killer = threading.Timer(timeout, p.kill)
        killer.start()
        _, status, ru = os.wait4(p.pid, 0)
        killer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        self.wall_s = time.monotonic() - t0
        b1, i1 = read_cpu_times()
        self.status = p.returncode
        self.rss_mib = ru.ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux
        self.cpu_s = ru.ru_utime + ru.ru_stime
        total = (b1 - b0) + (i1 - i0)
        others = (b1 - b0) - self.cpu_s * CLK_TCK
        self.busy = max(0.0, others / total) if total > 0 else 0.0
        out.seek(0)
        err.seek(0)
        self.stdout, self.stderr = out.read(), err.read()
        out.close()
        err.close()

    def json_lines(self):
        res = []
        for line in self.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    res.append(json.loads(line))
                except ValueError:
                    pass
        return res

    def err_tail(self, n=6):
        lines = (self.stderr or "").strip().splitlines()
        return " | ".join(lines[-n:])


# ---------------------------------------------------------------- tools

class Tool:
    def __init__(self, name, label, make_cmd, env=None):
        self.name, self.label, self.make_cmd, self.env = name, label, make_cmd, env
        self.skip = None  # reason, when not run
        self.info = None  # first info line a child printed


def preferred_env(base, **changes):
    env = dict(base)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def build_tools(args, paths):
    env = dict(os.environ)
    tools = {}
    vitrun = os.path.join(args.build_dir, "vitrun")
    module = paths["module"]

    def ours_cmd(b, t, r):
        return [vitrun, "bench", module, "--weights", paths["weights"],
                "--batch", str(b), "--threads", str(t), "--runs", str(r)]

    tools["ours"] = Tool("ours", LABELS["ours"], ours_cmd, env)

    def ort_cmd(b, t, r):
        return [args.node, os.path.join(HERE, "peer_ort.js"), "--model", paths["onnx"],
                "--batch", str(b), "--threads", str(t), "--runs", str(r), "--img", str(args.img)]

    tools["ort"] = Tool("ort", LABELS["ort"], ort_cmd, env)

    def torch_cmd(b, t, r):
        return [sys.executable, os.path.join(HERE, "peer_torch.py"), "--weights", paths["weights"],
                "--batch", str(b), "--threads", str(t), "--runs", str(r)] + args.arch_opts

    tools["torch"] = Tool("torch", LABELS["torch"], torch_cmd, env)
    # OpenBLAS reads OPENBLAS_CORETYPE at load: the other setting needs its own
    # process. As set in the environment is the main row; the extra row is
    # the opposite (unset if it is set, Haswell if it is not).
    if env.get("OPENBLAS_CORETYPE"):
        alt_env = preferred_env(env, OPENBLAS_CORETYPE=None, OPENBLAS_L2_SIZE=None)
        alt_label = "PyTorch (OPENBLAS_CORETYPE unset)"
    else:
        alt_env = preferred_env(env, OPENBLAS_CORETYPE="Haswell")
        alt_label = "PyTorch (OPENBLAS_CORETYPE=Haswell)"
    tools["torch-alt"] = Tool("torch-alt", alt_label, torch_cmd, alt_env)
    tools["torch-passive"] = Tool("torch-passive", LABELS["torch-passive"], torch_cmd,
                                  preferred_env(env, OMP_WAIT_POLICY="PASSIVE"))
    return tools


# ---------------------------------------------------------------- preparing

def run_checked(cmd, what, **kw):
    log(what + ":", " ".join(shlex.quote(rel(c) if os.path.isabs(c) else c) for c in cmd))
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        sys.exit(f"bench: {what} failed (exit {r.returncode})")
    return r


def prepare(args, paths, tools):
    os.makedirs(args.work, exist_ok=True)
    # model files
    run_checked([sys.executable, os.path.join(HERE, "make_model.py"), "--work", args.work,
                 "--seed", str(args.seed)] + args.arch_opts, "model")
    with open(os.path.join(args.work, "model.json")) as f:
        err = json.load(f).get("onnx_error")
    if err and "ort" in args.tools:
        tools["ort"].skip = args.ort_skip = f"export failed: {err}"
        log("ort: skipped:", tools["ort"].skip)
    # onnxruntime-node
    if "ort" in args.tools:
        if not os.path.exists(os.path.join(HERE, "node_modules", "onnxruntime-node", "package.json")):
            run_checked([args.npm, "install", "--ignore-scripts", "--no-audit", "--no-fund"],
                        "npm install", cwd=HERE)
    # FMA peak probe
    run_checked([args.cc, "-O2", "-mavx512f", "-pthread", os.path.join(HERE, "fma_peak.c"),
                 "-o", paths["fma_peak"]], "fma_peak build")
    # our module
    if "ours" in args.tools:
        prepare_ours(args, paths, tools["ours"])


def prepare_ours(args, paths, tool):
    vitrun = os.path.join(args.build_dir, "vitrun")
    vitc = os.path.join(args.build_dir, "vitc")
    arch = os.path.join(ROOT, args.arch_file)
    module = paths["module"]
    if not os.access(vitrun, os.X_OK):
        tool.skip = f"{rel(vitrun)} not found (build the project first)"
        return
    stale = os.path.exists(module) and any(
        os.path.exists(p) and os.path.getmtime(p) > os.path.getmtime(module) for p in (vitc, arch))
    opts_file = module + ".opts"  # the vitc options the module was compiled with
    opts = " ".join(args.size_opts)
    if args.size_opts and (not os.path.exists(opts_file) or open(opts_file).read() != opts):
        stale = True
    if not os.path.exists(module) or stale:
        if not os.access(vitc, os.X_OK):
            tool.skip = f"{rel(module)} not found and {rel(vitc)} not built"
            return
        if not os.path.exists(arch):
            tool.skip = f"{rel(module)} not found and {args.arch_file} does not exist"
            return
        cmd = [vitc, "compile", args.arch_file, "-o", module] + args.size_opts
        log("compile:", " ".join(rel(c) if os.path.isabs(c) else c for c in cmd))
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(module):
            tail = " | ".join((r.stderr or r.stdout).strip().splitlines()[-4:])
            tool.skip = f"vitc compile failed (exit {r.returncode}): {tail}"
            return
        if args.size_opts:
            with open(opts_file, "w") as f:
                f.write(opts)


def check_peers(args, paths):
    """Both peers must reproduce the PyTorch logits of make_model.py."""
    res = {}
    chk = [paths["check_input"], paths["check_logits"]]
    if "ort" in args.tools and not args.ort_skip:
        c = Child([args.node, os.path.join(HERE, "peer_ort.js"), "--model", paths["onnx"],
                   "--threads", "2", "--check", chk[0], "--expect", chk[1], "--img", str(args.img)])
        res["ort"] = [j["check"] for j in c.json_lines() if "check" in j] or c.err_tail()
        if c.status != 0:
            sys.exit(f"bench: ONNX Runtime output does not match PyTorch: {res['ort']}")
    if any(t.startswith("torch") for t in args.tools):
        c = Child([sys.executable, os.path.join(HERE, "peer_torch.py"), "--weights", paths["weights"],
                   "--threads", "2", "--check", chk[0], "--expect", chk[1]] + args.arch_opts)
        res["torch"] = [j["check"] for j in c.json_lines() if "check" in j] or c.err_tail()
        if c.status != 0:
            sys.exit(f"bench: PyTorch peer does not reproduce its logits: {res['torch']}")
    return res


def read_f32_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        out = {}
        for name, info in header.items():
            if name == "__metadata__" or info.get("dtype") != "F32":
                continue
            b, e = info["data_offsets"]
            f.seek(8 + n + b)
            out[name] = np.frombuffer(f.read(e - b), dtype="<f4").reshape(info["shape"])
    return out


def check_ours(args, paths, tool):
    """Run our module on the check input and compare 'logits' with PyTorch's."""
    import numpy as np
    out = os.path.join(args.work, "ours_check.safetensors")
    if os.path.exists(out):
        os.remove(out)
    c = Child([os.path.join(args.build_dir, "vitrun"), "run", paths["module"], "--weights",
               paths["weights"], "--tensor", paths["check_input_st"], "-o", out])
    if c.status != 0 or not os.path.exists(out):
        return {"ok": False, "error": f"vitrun run: exit {c.status}: {c.err_tail()}"}
    got = read_f32_safetensors(out)
    if "logits" not in got:
        return {"ok": False, "error": f"no 'logits' in vitrun output ({sorted(got)})"}
    ref = np.fromfile(paths["check_logits"], dtype="<f4")
    y = got["logits"].reshape(-1)
    if y.size != ref.size:
        return {"ok": False, "error": f"logits have {y.size} values, expected {ref.size}"}
    diff = float(np.abs(y - ref).max())
    scale = float(np.abs(ref).max())
    tol = args.check_tol  # families: relative to the largest logit, whatever its size
    denom = scale if args.arch != ARCH else max(1.0, scale)
    return {"ok": diff <= tol * denom, "max_abs_diff": diff, "max_abs_ref": scale,
            "tol": tol}


def fma_peak(args, paths, threads):
    """Best of up to 1 + --retries probes; a probe on a busy machine is redone."""
    best, tries = {}, []
    for attempt in range(args.retries + 1):
        wait_for_quiet(args)
        c = Child([paths["fma_peak"]] + [str(t) for t in threads])
        if c.status != 0:
            sys.exit("bench: fma_peak failed: " + c.err_tail())
        for j in c.json_lines():
            k = str(j["threads"])
            if k not in best or j["gflops"] > best[k]["gflops"]:
                best[k] = j
        tries.append(round(c.busy, 3))
        if c.busy <= args.max_busy:
            break
    return {"per_threads": best, "busy": tries}


# ---------------------------------------------------------------- measuring

def wait_for_quiet(args):
    """Before starting a child: wait (at most --quiet-wait s) until other
    processes use no more than --max-busy of the machine over 1 s."""
    deadline = time.monotonic() + args.quiet_wait
    while True:
        b0, i0 = read_cpu_times()
        time.sleep(1.0)
        b1, i1 = read_cpu_times()
        total = (b1 - b0) + (i1 - i0)
        busy = (b1 - b0) / total if total else 0.0
        if busy <= args.max_busy or time.monotonic() >= deadline:
            return busy


def measure_once(args, tool, batch, threads):
    """One measured sample, redone while the machine is busy. Returns a dict."""
    attempts = []
    for attempt in range(args.retries + 1):
        wait_for_quiet(args)
        final = attempt == args.retries or args.redos_left <= 0
        cmd = tool.make_cmd(batch, threads, args.warmup + 1)
        c = Child(cmd, env=tool.env, timeout=args.timeout)
        lines = c.json_lines()
        if tool.info is None:
            tool.info = next((j["info"] for j in lines if "info" in j), None)
        ms = [j["ms_per_image"] for j in lines if "ms_per_image" in j]
        if c.status != 0 or len(ms) < args.warmup + 1:
            return {"error": f"exit {c.status}, {len(ms)} timings: {c.err_tail()}"}
        sample = {"ms_per_image": ms[-1], "warmup_ms_per_image": ms[:-1],
                  "rss_mib": round(c.rss_mib, 1), "busy": round(c.busy, 3),
                  "wall_s": round(c.wall_s, 2), "cpu_s": round(c.cpu_s, 2)}
        if c.busy <= args.max_busy:
            sample["discarded"] = attempts
            return sample
        if final:
            break
        args.redos_left -= 1
        log(f"  {tool.name}: others used {c.busy:.0%} of the machine, redoing")
        attempts.append({k: sample[k] for k in ("ms_per_image", "busy")})
    sample["discarded"] = attempts
    sample["noisy"] = True  # kept: no quiet attempt within the retries
    return sample


def summarise(samples, peak):
    """Median/min/max over the quiet runs; over all runs only if none was quiet."""
    good = [s for s in samples if "error" not in s]
    quiet = [s for s in good if not s.get("noisy")]
    use = quiet or good
    if not use:
        return None
    ms = [s["ms_per_image"] for s in use]
    med = statistics.median(ms)
    gflops = GFLOP / (med / 1000.0)
    out = {"median_ms": round(med, 2), "min_ms": round(min(ms), 2), "max_ms": round(max(ms), 2),
           "n": len(ms),
           "n_noisy_left_out": len(good) - len(quiet) if quiet else 0,
           "n_noisy_kept": 0 if quiet else len(good),
           "n_discarded": sum(len(s.get("discarded", [])) for s in good),
           "gflops": round(gflops, 1),
           "peak_rss_mib": round(max(s["rss_mib"] for s in good), 1),
           "busy_max": max(s["busy"] for s in use)}
    if peak:
        out["pct_peak"] = round(100.0 * gflops / peak, 1)
    return out


def run_workloads(args, tools, peaks):
    order = [tools[t] for t in args.tools if tools[t].skip is None]
    results = []
    for (batch, threads) in args.workloads:
        log(f"workload: batch {batch}, {threads} thread(s): " + " ".join(t.name for t in order))
        samples = {t.name: [] for t in order}
        for r in range(args.runs):
            for tool in order:
                if tool.skip:
                    continue
                s = measure_once(args, tool, batch, threads)
                if "error" in s:
                    if tool.name == "ours":
                        tool.skip = "vitrun bench failed: " + s["error"]
                        log("  ours: skipped from here on:", tool.skip)
                        continue
                    sys.exit(f"bench: {tool.label} failed: {s['error']}")
                samples[tool.name].append(s)
                log(f"  run {r + 1}/{args.runs} {tool.name:13s} {s['ms_per_image']:8.1f} ms/img"
                    f"  rss {s['rss_mib']:6.0f} MiB  others {s['busy']:4.0%}"
                    + ("  (noisy)" if s.get("noisy") else ""))
        peak = peaks.get(str(threads))
        w = {"batch": batch, "threads": threads, "tools": {}}
        for tool in order:
            summ = summarise(samples.get(tool.name, []), peak)
            w["tools"][tool.name] = {"summary": summ, "samples": samples.get(tool.name, [])}
        ours = (w["tools"].get("ours") or {}).get("summary")
        for name, t in w["tools"].items():
            if name != "ours" and ours and t["summary"]:
                t["summary"]["ratio_vs_ours"] = round(t["summary"]["median_ms"] / ours["median_ms"], 3)
        results.append(w)
    return results


# ---------------------------------------------------------------- reporting

def fmt_ms(s):
    return f"{s['median_ms']:.0f} ({s['min_ms']:.0f}–{s['max_ms']:.0f})"


def write_markdown(res, path, results_rel):
    tools = res["tools"]
    names = [n for n in res["settings"]["tools"]]
    label = {n: tools[n]["label"] for n in names}
    ours_skip = tools.get("ours", {}).get("skipped")
    m = res["machine"]
    peaks = res["fma_peak"]["gflops"]
    L = []
    L.append("# Benchmarks")
    L.append("")
    L.append(f"ViT-B/16 at 224 (timm `{ARCH}`, seeded random weights, FP32), "
             f"{GFLOP_PER_IMAGE} GFLOP per image. Generated by `bench/run.sh` from "
             f"`{results_rel}`; see bench/README.md for the method.")
    L.append("")
    if ours_skip:
        L.append(f"**vitrun (ours) was not run yet:** {ours_skip}. Only the peers' numbers "
                 "below were measured.")
        L.append("")
    chk = (res.get("peer_checks") or {}).get("ours")
    if chk and not ours_skip:
        if chk.get("ok"):
            L.append(f"vitrun's logits match PyTorch's on the check input (max |diff| "
                     f"{chk['max_abs_diff']:.2g}, largest logit {chk['max_abs_ref']:.2g}).")
        else:
            L.append("**vitrun's output does NOT match PyTorch's on the check input:** "
                     + (chk.get("error") or f"max |diff| {chk.get('max_abs_diff'):.3g}")
                     + ". Its times below are of a wrong computation.")
        L.append("")
    commit = res.get("git_commit") or "?"
    if res.get("git_dirty"):
        commit += " with uncommitted changes"
    L.append(f"- Date: {res['date']}; command: `{res['command']}`; vitrun built from {commit}")
    L.append(f"- Machine: {m.get('nproc')} × {m.get('cpu_model')} (family {m.get('cpu_family')}, "
             f"model {m.get('cpu_model_number')}), {m.get('mem_gib')} GiB, {m.get('os', '')}")
    L.append("- FMA peak measured in this run (AVX-512, 16 zmm accumulators): "
             + ", ".join(f"{v:.0f} GFLOP/s on {k} thread{'s' if k != '1' else ''}"
                         for k, v in sorted(peaks.items())))
    pb = [b for p in ("before", "after") for b in res["fma_peak"][p]["busy"]]
    if pb and min(pb) > res["settings"]["max_busy"]:
        L.append(f"  (every peak probe ran on a busy machine, others using ≥ {min(pb):.0%}: the peak "
                 "is understated and the % of peak overstated)")
    ob = res["env"].get("OPENBLAS_CORETYPE")
    L.append(f"- OPENBLAS_CORETYPE in the environment: {'`' + ob + '`' if ob else 'unset'}")
    vers = []
    for n in names:
        info = tools[n].get("info") or {}
        if n == "ort" and info:
            vers.append(f"onnxruntime-node {info.get('version')} (node {info.get('node')})")
        if n == "torch" and info:
            vers.append(f"PyTorch {info.get('version')} with timm {info.get('timm')}, "
                        f"OpenBLAS kernels {info.get('openblas_core')}")
        if n == "torch-alt" and info:
            vers.append(f"extra row: OpenBLAS kernels {info.get('openblas_core')}")
    if vers:
        L.append("- Peers: " + "; ".join(vers))
    st = res["settings"]
    L.append(f"- Each cell: median (min–max) ms per image over {st['runs']} measured runs, each a "
             f"fresh process after {st['warmup']} warm-up run(s), tools alternated run by run; "
             f"runs taken while other processes used > {st['max_busy']:.0%} of the machine were "
             "redone.")
    L.append("")
    L.append("## Time per image")
    L.append("")
    L.append("| batch | threads | " + " | ".join(label[n] for n in names) + " |")
    L.append("|---|---|" + "---|" * len(names))
    for w in res["workloads"]:
        cells = []
        for n in names:
            t = w["tools"].get(n)
            s = t and t["summary"]
            if n == "ours" and not s:
                cells.append("not run")
            elif s:
                mark = " (busy)" if s.get("n_noisy_kept") else ""
                if s["n"] < res["settings"]["runs"]:
                    mark += f" (n={s['n']})"
                cells.append((f"{fmt_ms(s)} ms, {s['pct_peak']:.0f} % of peak"
                              if "pct_peak" in s else f"{fmt_ms(s)} ms") + mark)
            else:
                cells.append("—")
        L.append(f"| {w['batch']} | {w['threads']} | " + " | ".join(cells) + " |")
    L.append("")
    peers = [n for n in names if n != "ours"]
    if not ours_skip:
        L.append("## Ratios (peer / vitrun; above 1 means vitrun is faster)")
        L.append("")
        L.append("| batch | threads | " + " | ".join(label[n] for n in peers) + " |")
        L.append("|---|---|" + "---|" * len(peers))
        for w in res["workloads"]:
            cells = []
            o = (w["tools"].get("ours") or {}).get("summary") or {}
            for n in peers:
                s = (w["tools"].get(n) or {}).get("summary") or {}
                busy = " (busy)" if s.get("n_noisy_kept") or o.get("n_noisy_kept") else ""
                cells.append(f"{s['ratio_vs_ours']:.2f}{busy}" if "ratio_vs_ours" in s else "—")
            L.append(f"| {w['batch']} | {w['threads']} | " + " | ".join(cells) + " |")
        L.append("")
    L.append("## GFLOP/s and peak RSS")
    L.append("")
    L.append("| batch | threads | " + " | ".join(label[n] for n in names) + " |")
    L.append("|---|---|" + "---|" * len(names))
    for w in res["workloads"]:
        cells = []
        for n in names:
            s = (w["tools"].get(n) or {}).get("summary")
            cells.append(f"{s['gflops']:.0f} GFLOP/s, {s['peak_rss_mib']:.0f} MiB" if s
                         else ("not run" if n == "ours" else "—"))
        L.append(f"| {w['batch']} | {w['threads']} | " + " | ".join(cells) + " |")
    L.append("")
    noisy = [(w["batch"], w["threads"], n) for w in res["workloads"] for n, t in w["tools"].items()
             if t["summary"] and t["summary"].get("n_noisy_kept")]
    ncells = sum(1 for w in res["workloads"] for t in w["tools"].values() if t["summary"])
    if noisy:
        which = ("every cell" if len(noisy) == ncells else
                 ", ".join(f"batch {b} × {t} thr {label[n]}" for b, t, n in noisy))
        L.append("(busy): no run of that cell was quiet within the retries; its numbers were "
                 "taken while other processes held the machine and are not comparable: "
                 + which + ".")
        L.append("")
    # the first line is the file's title; the rest is this benchmark's section
    sys.path.insert(0, HERE)
    from mdsplice import splice
    body = ["### " + l[3:] if l.startswith("## ") else l for l in L[1:]]
    body[0:1] = ["## ViT-B/16 forward: vitrun, ONNX Runtime, PyTorch"]
    splice(path, "forward", "\n".join(body))


FAMILY_TITLES = {
    "swin_tiny_patch4_window7_224": "Swin-T at 224",
    "swin_base_patch4_window7_224": "Swin-B at 224",
    "maxvit_small_tf_224": "MaxViT-S at 224",
    "vit_base_patch14_dinov2_224": "DINOv2 ViT-B/14 at 224",
    "vit_base_patch14_dinov2": "DINOv2 ViT-B/14 at 518",
}


def write_families_markdown(path, results_dir):
    """The "families" section: one table per arch, each from the results file
    bench/results/families.json lists for it."""
    index = {}
    index_path = os.path.join(results_dir, "families.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    order = [k for k in FAMILY_TITLES if k in index] + sorted(k for k in index if k not in FAMILY_TITLES)
    L = ["## Other families forward: vitrun, ONNX Runtime, PyTorch", ""]
    L.append("Seeded random weights, FP32, 2 threads. Generated by `bench/run.sh --arch NAME "
             "[--size N]`, one invocation per arch; see bench/README.md for the method. Each cell: "
             "median (min–max) ms per image over the measured runs (each a fresh process after "
             "the warm-up runs, tools alternated run by run), then GFLOP/s. GFLOP per image: "
             "2 × the multiply-adds of the linear, convolution and matrix-product calls of "
             "timm's forward pass (make_model.py; 35.13 for ViT-B/16). Ratio = peer median / "
             "vitrun median (above 1: vitrun is faster).")
    L.append("")
    if not order:
        L.append("No arch measured yet.")
    for key in order:
        with open(os.path.join(ROOT, index[key])) as f:
            res = json.load(f)
        fam, st, m = res["family"], res["settings"], res["machine"]
        tools = res["tools"]
        names = st["tools"]
        title = FAMILY_TITLES.get(key, f"{fam['arch']} at {fam['img_size']}")
        L.append(f"### {title}")
        L.append("")
        opts = " ".join(fam.get("vitc_options") or [])
        L.append(f"timm `{fam['arch']}` (img_size {fam['img_size']}), {res['model'].get('params', 0) / 1e6:.1f} M "
                 f"parameters, {res['gflop_per_image']} GFLOP per image; vitrun: `vitc compile "
                 f"{fam['spec']}{' ' + opts if opts else ''}`. Command: `{res['command']}` "
                 f"({res['date']}, {st['runs']} measured runs, {st['warmup']} warm-up; vitrun built "
                 f"from {res.get('git_commit') or '?'}{' with uncommitted changes' if res.get('git_dirty') else ''}; "
                 f"{m.get('nproc')} × {m.get('cpu_model')}; results `{index[key]}`).")
        L.append("")
        chk = (res.get("peer_checks") or {}).get("ours")
        ours_skip = tools.get("ours", {}).get("skipped")
        if ours_skip:
            L.append(f"**vitrun was not run:** {ours_skip}.")
        elif chk and chk.get("ok"):
            L.append(f"vitrun's logits match PyTorch's on the check input (2 images): max |diff| "
                     f"{chk['max_abs_diff']:.2g}, largest logit {chk['max_abs_ref']:.2g} "
                     f"(relative {chk['max_abs_diff'] / chk['max_abs_ref']:.1g}; tolerance {chk.get('tol', 1e-3):g}).")
        elif chk:
            L.append("**vitrun's output does NOT match PyTorch's on the check input:** "
                     + (chk.get("error") or f"max |diff| {chk.get('max_abs_diff'):.3g}, largest "
                        f"logit {chk.get('max_abs_ref'):.3g}")
                     + ". Its times below are of a wrong computation.")
        for n in names:
            sk = tools[n].get("skipped")
            if n == "ort" and sk:
                L.append("")
                L.append(f"ONNX Runtime: {sk}.")
        ortchk = (res.get("peer_checks") or {}).get("ort")
        if isinstance(ortchk, list) and ortchk:
            L.append("")
            L.append(f"ONNX Runtime reproduces PyTorch's logits (max |diff| {ortchk[0]['max_abs_diff']:.2g}).")
        L.append("")
        peers = [n for n in names if n != "ours"]
        L.append("| batch | threads | " + " | ".join(tools[n]["label"] for n in names) + " | "
                 + " | ".join(f"{tools[n]['label']} / vitrun" for n in peers) + " |")
        L.append("|---|---|" + "---|" * (len(names) + len(peers)))
        for w in res["workloads"]:
            cells = []
            for n in names:
                s = ((w["tools"].get(n) or {}).get("summary"))
                if s:
                    busy = " (busy)" if s.get("n_noisy_kept") else ""
                    cells.append(f"{s['median_ms']:.1f} ({s['min_ms']:.1f}–{s['max_ms']:.1f}) ms, "
                                 f"{s['gflops']:.0f} GFLOP/s{busy}")
                elif n == "ort" and tools[n].get("skipped"):
                    cells.append("export failed")
                else:
                    cells.append("not run")
            o = (w["tools"].get("ours") or {}).get("summary") or {}
            for n in peers:
                s = (w["tools"].get(n) or {}).get("summary") or {}
                cells.append(f"**{s['ratio_vs_ours']:.2f}**" if "ratio_vs_ours" in s and n == "ort"
                             else (f"{s['ratio_vs_ours']:.2f}" if "ratio_vs_ours" in s else "—"))
            L.append(f"| {w['batch']} | {w['threads']} | " + " | ".join(cells) + " |")
        L.append("")
    missing = [t for k, t in FAMILY_TITLES.items() if k not in index]
    if missing:
        L.append("Not measured yet: " + ", ".join(missing) + ".")
        L.append("")
    sys.path.insert(0, HERE)
    from mdsplice import splice
    splice(path, "families", "\n".join(L))


def vitc_options(arch, img, own):
    """vitc compile options that make archs/ARCH.vit take the weights timm
    builds for arch at img px."""
    opts = ["--size", str(img)] if img != own else []
    if "dinov2" in arch:
        # The DINOv2 specs have no head (classes = 0) and expect the 37 x 37
        # position grid of the 518 px checkpoint; timm's model here has a
        # 1000-class head and, at img px, an img/14 grid.
        opts += ["--set", "classes=%d" % 1000]
        if img != own:
            opts += ["--set", "pos_grid=%d" % (img // 14)]
    return opts


# ---------------------------------------------------------------- main

def parse_workloads(s):
    out = []
    for item in s.split(","):
        b, t = item.lower().split("x")
        out.append((int(b), int(t)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default=ARCH, help=f"timm model name with a spec archs/NAME.vit (default {ARCH})")
    ap.add_argument("--size", type=int, default=None,
                    help="image size (default: the arch's own, 518 for DINOv2, else 224)")
    ap.add_argument("--work", default=None,
                    help="model files and module (default bench/scratch, or bench/scratch/NAME[_SIZE])")
    ap.add_argument("--build-dir", default=os.environ.get("VITC_BUILD", os.path.join(ROOT, "build")),
                    help="where vitc and vitrun are (default: build/ at the repo root)")
    ap.add_argument("--workloads", default=None,
                    help=f"BATCHxTHREADS,... (default {DEFAULT_WORKLOADS}; {FAMILY_WORKLOADS} with --arch)")
    ap.add_argument("--tools", default=None,
                    help="from ours,ort,torch,torch-alt,torch-passive "
                         f"(default ours,ort,torch,torch-alt; {FAMILY_TOOLS} with --arch)")
    ap.add_argument("--runs", type=int, default=5, help="measured runs per tool and workload")
    ap.add_argument("--warmup", type=int, default=1, help="discarded runs in each process")
    ap.add_argument("--max-busy", type=float, default=0.25,
                    help="redo a run if other processes used more than this share of the machine")
    ap.add_argument("--retries", type=int, default=3, help="redos per run when busy")
    ap.add_argument("--max-redos", type=int, default=60,
                    help="redos in the whole invocation; past it busy runs are kept and flagged")
    ap.add_argument("--quiet-wait", type=float, default=30.0,
                    help="before each run, wait at most this many seconds for the machine to be quiet")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per child process")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--markdown", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--no-markdown", action="store_true", help="do not touch BENCHMARKS.md")
    ap.add_argument("--markdown-only", metavar="RESULTS_JSON",
                    help="only regenerate BENCHMARKS.md from a results file")
    ap.add_argument("--node", default=os.environ.get("NODE", "node"))
    ap.add_argument("--npm", default=os.environ.get("NPM", "npm"))
    ap.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    args = ap.parse_args()

    global GFLOP
    sys.path.insert(0, HERE)
    from make_model import default_img
    family = args.arch != ARCH
    img = args.size or default_img(args.arch)
    args.img = img
    args.arch_file = os.path.join("archs", args.arch + ".vit")
    args.arch_opts = ["--arch", args.arch, "--img", str(img)] if family else []
    args.size_opts = vitc_options(args.arch, img, default_img(args.arch))
    args.check_tol = FAMILY_TOL if family else 1e-3
    args.ort_skip = None
    key = args.arch + (f"_{img}" if img != default_img(args.arch) else "")
    if args.workloads is None:
        args.workloads = FAMILY_WORKLOADS if family else DEFAULT_WORKLOADS
    if args.tools is None:
        args.tools = FAMILY_TOOLS if family else "ours,ort,torch,torch-alt"
    if args.work is None:
        args.work = os.path.join(HERE, "scratch", key) if family else os.path.join(HERE, "scratch")

    if args.markdown_only:
        with open(args.markdown_only) as f:
            res = json.load(f)
        if res.get("family"):
            write_families_markdown(args.markdown, args.results)
        else:
            write_markdown(res, args.markdown, rel(os.path.abspath(args.markdown_only)))
        log("wrote", rel(args.markdown))
        return

    if family and not os.path.exists(os.path.join(ROOT, args.arch_file)):
        sys.exit(f"bench: no spec {args.arch_file}")
    args.work = os.path.abspath(args.work)
    args.build_dir = os.path.abspath(args.build_dir)
    args.workloads = parse_workloads(args.workloads)
    args.redos_left = args.max_redos
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in args.tools:
        if t not in LABELS:
            sys.exit(f"bench: unknown tool {t}")
    if args.runs < 1:
        sys.exit("bench: --runs must be at least 1")
    if args.runs < 5:
        log(f"note: --runs {args.runs} is below the 5 measured runs a reported number needs")

    command = os.environ.get("BENCH_COMMAND") or " ".join(
        shlex.quote(rel(os.path.abspath(sys.argv[0])))) + " " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    started = time.time()
    paths = {
        "weights": os.path.join(args.work, "weights.safetensors"),
        "onnx": os.path.join(args.work, "model.onnx"),
        "check_input": os.path.join(args.work, "check_input.bin"),
        "check_input_st": os.path.join(args.work, "check_input.safetensors"),
        "check_logits": os.path.join(args.work, "check_logits.bin"),
        "module": os.path.join(args.work, (key + ".vitm") if family else "vit_b16.vitm"),
        "fma_peak": os.path.join(args.work, "fma_peak"),
    }
    tools = build_tools(args, paths)
    prepare(args, paths, tools)
    if "ours" in args.tools and tools["ours"].skip:
        log("ours: skipped:", tools["ours"].skip)
    with open(os.path.join(args.work, "model.json")) as f:
        model = json.load(f)
    GFLOP = model["gflop_per_image"] if family else GFLOP_PER_IMAGE
    checks = check_peers(args, paths)
    if "ours" in args.tools and not tools["ours"].skip:
        checks["ours"] = check_ours(args, paths, tools["ours"])
        log("ours: output check:", json.dumps(checks["ours"]))

    thread_counts = sorted({t for _, t in args.workloads})
    log("fma peak ...")
    peak_before = fma_peak(args, paths, thread_counts)
    log("  " + ", ".join(f"{k} thr {v['gflops']} GFLOP/s" for k, v in peak_before["per_threads"].items()))
    workloads = run_workloads(args, tools, {k: v["gflops"] for k, v in peak_before["per_threads"].items()})
    peak_after = fma_peak(args, paths, thread_counts)
    peaks = {k: max(v["gflops"], peak_after["per_threads"].get(k, {}).get("gflops", 0))
             for k, v in peak_before["per_threads"].items()}
    # % of peak against the best of the two peak measurements
    for w in workloads:
        for t in w["tools"].values():
            s = t["summary"]
            if s and str(w["threads"]) in peaks:
                s["pct_peak"] = round(100.0 * s["gflops"] / peaks[str(w["threads"])], 1)

    try:
        git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "-uno"],
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        git, dirty = None, None
    now = datetime.datetime.now()
    res = {
        "date": now.strftime("%Y-%m-%d %H:%M"),
        "command": command,
        "git_commit": git,
        "git_dirty": dirty,
        "duration_s": None,
        "machine": machine_info(),
        "env": {k: os.environ.get(k) for k in
                ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")},
        "model": {k: model.get(k) for k in
                  ("arch", "seed", "params", "weight_bytes", "timm", "torch", "opset",
                   "img_size", "onnx_error")},
        "gflop_per_image": GFLOP,
        "fma_peak": {"gflops": peaks, "before": peak_before, "after": peak_after},
        "settings": {"runs": args.runs, "warmup": args.warmup, "max_busy": args.max_busy,
                     "retries": args.retries, "max_redos": args.max_redos,
                     "redos_used": args.max_redos - args.redos_left, "tools": args.tools,
                     "workloads": [f"{b}x{t}" for b, t in args.workloads]},
        "peer_checks": checks,
        "tools": {n: {"label": tools[n].label, "info": tools[n].info, "skipped": tools[n].skip,
                      "env_changes": {k: tools[n].env.get(k) for k in
                                      ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY")
                                      if tools[n].env.get(k) != os.environ.get(k)}}
                  for n in args.tools},
        "workloads": workloads,
    }
    if family:
        res["family"] = {"key": key, "arch": args.arch, "img_size": img,
                         "spec": args.arch_file, "vitc_options": args.size_opts}
    res["duration_s"] = round(time.time() - started, 1)
    os.makedirs(args.results, exist_ok=True)
    base = os.path.join(args.results, now.strftime("%Y-%m-%d") + (f"-{key}" if family else ""))
    out = base + ".json"
    k = 2
    while os.path.exists(out):
        out = f"{base}-{k}.json"
        k += 1
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    log("wrote", rel(out))
    if family:
        index = {}
        index_path = os.path.join(args.results, "families.json")
        if os.path.exists(index_path):
            with open(index_path) as f:
                index = json.load(f)
        index[key] = rel(out)
        with open(index_path, "w") as f:
            json.dump(dict(sorted(index.items())), f, indent=1)
            f.write("\n")
    if not args.no_markdown:
        if family:
            write_families_markdown(args.markdown, args.results)
        else:
            write_markdown(res, args.markdown, rel(out))
        log("wrote", rel(args.markdown))

    # short summary on stdout
    for w in workloads:
        print(f"batch {w['batch']} threads {w['threads']}:")
        for n, t in w["tools"].items():
            s = t["summary"]
            if s:
                extra = f"  x{s['ratio_vs_ours']:.2f} vs ours" if "ratio_vs_ours" in s else ""
                print(f"  {tools[n].label:38s} {s['median_ms']:8.1f} ms/img ({s['min_ms']:.1f}-{s['max_ms']:.1f})"
                      f"  {s['gflops']:6.1f} GFLOP/s {s.get('pct_peak', 0):5.1f} %  {s['peak_rss_mib']:.0f} MiB{extra}")
    if tools.get("ours") and tools["ours"].skip:
        print(f"ours: not run: {tools['ours'].skip}")


if __name__ == "__main__":
    main()
