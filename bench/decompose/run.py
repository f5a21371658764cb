#!/usr/bin/env python3
"""Base-size decomposition: equality with the paper's code, and timing against it.

    export PYTHONPATH=<vit-decompose checkout>          # the reference, imported, not vendored
    python3 bench/decompose/run_reference.py prepare    # weights + input (once)
    python3 bench/decompose/run.py equality             # ours vs reference, R and E pairings
    python3 bench/decompose/run.py timing [--rounds 5]  # alternating timing runs

Python: a Python with torch 1.13+ (Debian's /usr/bin/python3); `BENCH_PYTHON` overrides
the interpreter used for the reference processes. Binaries: $VITC / $VITRUN, default
build/vitc and build/vitrun. Everything is written under bench/decompose/scratch/ (ignored).

equality  for each mode (heads over blocks 0-11; heads from block 7; heads+tokens from
          block 11) and each pairing (R: reference unmodified vs `--ln reference`; E:
          reference with its LayerNorm rule corrected vs our default `--ln exact`) runs
          `vitrun decompose ... --tensor input.safetensors` and
          `run_reference.py decompose` (float64) and compares them (compare.py). Also the
          reference run in float32 against itself in float64 (its own rounding level).
          Writes scratch/equality.json.
timing    rounds of: the reference (float32, unmodified, heads, all blocks) at threads 1/2,
          batch 1/8 (threads 2 also with OMP_WAIT_POLICY=PASSIVE) and its plain forward
          pass; ours `vitrun bench --decompose --split head` and plain `vitrun bench` at
          the same threads and batches, and `vitrun decompose` wall time (1 and 8 images,
          JIT compile included), tools alternated within each round. Each process is
          measured for the CPU share other processes took while it ran (from /proc/stat);
          runs above --max-busy are redone (at most --retries times, then kept and
          flagged). With --tokens also heads+tokens from each block of --token-from (default
          11; reference one image at a time), ours materialised and in directions mode. Writes scratch/timing.json.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(HERE, 'scratch')
sys.path.insert(0, HERE)
import compare as cmp  # noqa: E402

VITC = os.environ.get('VITC', os.path.join(REPO, 'build', 'vitc'))
VITRUN = os.environ.get('VITRUN', os.path.join(REPO, 'build', 'vitrun'))
PY = os.environ.get('BENCH_PYTHON', sys.executable)
REF = os.path.join(HERE, 'run_reference.py')
SPEC = os.path.join(REPO, 'archs', 'deit_base_patch16_224.vit')

MODES = (('heads_full', 'head', 0), ('heads_from7', 'head', 7), ('heads_tokens_from11', 'head,token', 11))
PAIRINGS = (('R', 'reference'), ('E', 'exact'))


def w(name):
    return os.path.join(WORK, name)


def rel(p):
    return os.path.relpath(p, REPO)


def sh(cmd, **kw):
    print('+ ' + ' '.join(shlex.quote(rel(c) if c.startswith(REPO) else c) for c in cmd), flush=True)
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        sys.exit('command failed (%d)' % r.returncode)
    return r


def module():
    m = w('deit_b.vitm')
    if not os.path.exists(m) or os.path.getmtime(m) < os.path.getmtime(VITC):
        sh([VITC, 'compile', SPEC, '-o', m])
    return m


# --------------------------------------------------------------------------------------------

def cmd_equality(args):
    m = module()
    results = []
    for mode, split, start in MODES:
        if args.modes and mode not in args.modes:
            continue
        for pairing, ln in PAIRINGS:
            ours = w('ours_%s_%s.safetensors' % (mode, pairing))
            ref = w('ref_%s_%s.safetensors' % (mode, pairing))
            cmd = [VITRUN, 'decompose', m, '--weights', w('weights.safetensors'), '--tensor',
                   w('input.safetensors'), '--split', split, '--from', str(start), '--ln', ln, '-o', ours]
            t0 = time.time()
            sh(cmd + (['--check'] if ln == 'exact' else []))
            t_ours = time.time() - t0
            if not (args.reuse and os.path.exists(ref)):
                sh([PY, REF, 'decompose', '--split', split, '--from', str(start), '--ln', ln, '-o', ref])
            r = cmp.compare(ours, ref)
            with open(os.path.splitext(ref)[0] + '.json') as f:
                rmeta = json.load(f)
            r.update(mode=mode, pairing=pairing, ours_wall_s=round(t_ours, 2),
                     ref_seconds_per_image=rmeta['seconds_per_image'], ref_max_rss_kib=rmeta['max_rss_kib'])
            print(json.dumps(r), flush=True)
            results.append(r)
    # the reference's own float32 rounding, for scale
    for mode, split, start in MODES[:2]:
        if args.modes and mode not in args.modes:
            continue
        r32 = w('ref32_%s_R.safetensors' % mode)
        if not (args.reuse and os.path.exists(r32)):
            sh([PY, REF, 'decompose', '--split', split, '--from', str(start), '--ln', 'reference',
                '--dtype', 'float32', '-o', r32])
        r = cmp.compare(r32, w('ref_%s_R.safetensors' % mode))
        r.update(mode=mode, pairing='R', what='reference float32 vs reference float64')
        print(json.dumps(r), flush=True)
        results.append(r)
    with open(w('equality.json'), 'w') as f:
        json.dump(results, f, indent=1)


# --------------------------------------------------------------------------------------------

def stat_jiffies():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]), sum(v[:8]) - idle


def run_measured(cmd, env=None):
    """Runs cmd; returns (stdout, stderr, status, wall s, /proc/stat jiffies before/after, rusage)."""
    import tempfile
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        tot0, busy0 = stat_jiffies()
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.time() - t0
        tot1, busy1 = stat_jiffies()
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(), fe.read().decode()
    return out, err, p.returncode, wall, (tot0, busy0, tot1, busy1), ru


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def measure(job, args):
    """job: dict(name, cmd, env, parse). Returns a record with the value(s) and busy share."""
    for attempt in range(args.retries + 1):
        # wait (bounded) for a quiet second
        t_wait = time.time()
        while time.time() - t_wait < args.quiet_wait:
            a0 = stat_jiffies()
            time.sleep(1.0)
            a1 = stat_jiffies()
            if (a1[1] - a0[1]) / max(1, a1[0] - a0[0]) <= args.max_busy / 2:
                break
        la = loadavg()
        out, err, rc, wall, (tot0, busy0, tot1, busy1), ru = run_measured(job['cmd'], job.get('env'))
        child = ru.ru_utime + ru.ru_stime
        hz = os.sysconf('SC_CLK_TCK')
        if rc != 0:
            sys.exit('%s failed (%d): %s' % (job['name'], rc, err[-2000:]))
        ncpu = os.cpu_count()
        total_s = (tot1 - tot0) / hz
        busy_other = max(0.0, ((busy1 - busy0) / hz - child) / max(total_s, 1e-9))
        vals, _ = job['parse'](out, err, wall)
        rss = ru.ru_maxrss
        rec = dict(name=job['name'], value_ms=vals, busy=round(busy_other, 3), loadavg=la,
                   wall_s=round(wall, 2), max_rss_kib=rss, attempt=attempt, ncpu=ncpu)
        if busy_other <= args.max_busy:
            return rec
        print('  busy %.2f, redo %s' % (busy_other, job['name']), flush=True)
    rec['flag'] = 'busy'
    return rec


def parse_jsonl(out, err, wall):
    rows = [json.loads(l) for l in out.splitlines() if l.startswith('{') and 'ms_per_image' in l]
    ms = statistics.median(r['ms_per_image'] for r in rows)
    return ms, max(r.get('max_rss_kib', 0) for r in rows)


def parse_wall(images):
    def p(out, err, wall):
        return wall * 1e3 / images, None
    return p


def jobs_heads(m, args):
    W = w('weights.safetensors')
    J = []
    for T in (1, 2):
        for B in (1, 8):
            J.append(dict(name='ref decompose T%d B%d' % (T, B), key=('ref', T, B),
                          cmd=[PY, REF, 'time', '--threads', str(T), '--batch', str(B), '--runs', '1'],
                          parse=parse_jsonl))
            if T == 2:
                env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE')
                J.append(dict(name='ref decompose T%d B%d passive' % (T, B), key=('ref-passive', T, B),
                              cmd=[PY, REF, 'time', '--threads', str(T), '--batch', str(B), '--runs', '1'],
                              env=env, parse=parse_jsonl))
            J.append(dict(name='ours bench --decompose T%d B%d' % (T, B), key=('ours', T, B),
                          cmd=[VITRUN, 'bench', m, '--weights', W, '--decompose', '--split', 'head',
                               '--threads', str(T), '--batch', str(B), '--runs', '5'], parse=parse_jsonl))
            J.append(dict(name='ours bench forward T%d B%d' % (T, B), key=('ours-fwd', T, B),
                          cmd=[VITRUN, 'bench', m, '--weights', W, '--threads', str(T), '--batch', str(B),
                               '--runs', '5'], parse=parse_jsonl))
        J.append(dict(name='ref forward T%d B1' % T, key=('ref-fwd', T, 1),
                      cmd=[PY, REF, 'time', '--forward', '--threads', str(T), '--batch', '1', '--runs', '3'],
                      parse=parse_jsonl))
        for n, inp in ((1, 'input1.safetensors'), (8, 'input8.safetensors')):
            J.append(dict(name='ours vitrun decompose T%d %d images' % (T, n), key=('ours-cli', T, n),
                          cmd=[VITRUN, 'decompose', m, '--weights', W, '--tensor', w(inp), '--split', 'head',
                               '--threads', str(T), '-o', w('timing_out.safetensors')],
                          parse=parse_wall(n)))
    return J


def jobs_tokens(m, args):
    """heads+tokens from each block in --token-from: the reference one image at a time (threads
    1 and 2 from block 11; 1 thread, its faster setting, from earlier blocks, whose memory grows
    with the blocks covered), ours materialised and in directions mode (k = 16)."""
    W = w('weights.safetensors')
    J = []
    starts = [int(s) for s in args.token_from.split(',')]
    for start in starts:
        for T in ((1, 2) if start == 11 else (1,)):
            J.append(dict(name='ref decompose tokens from%d T%d B1' % (start, T), key=('ref-tok', start, T, 1),
                          cmd=[PY, REF, 'time', '--split', 'head,token', '--from', str(start), '--threads', str(T),
                               '--batch', '1', '--runs', '1', '--warmup', '0'], parse=parse_jsonl))
        for T in (1, 2):
            ours = [VITRUN, 'bench', m, '--weights', W, '--decompose', '--split', 'head,token',
                    '--from', str(start), '--threads', str(T), '--batch', '1', '--runs', '5']
            J.append(dict(name='ours bench --decompose tokens from%d T%d B1' % (start, T),
                          key=('ours-tok', start, T, 1), cmd=ours, parse=parse_jsonl))
            J.append(dict(name='ours tokens directions from%d T%d B1' % (start, T),
                          key=('ours-tok-dir', start, T, 1), cmd=ours + ['--directions', directions16()],
                          parse=parse_jsonl))
    if 11 in starts:
        for T in (1, 2):
            J.append(dict(name='ref decompose heads from11 T%d B1' % T, key=('ref-h11', T, 1),
                          cmd=[PY, REF, 'time', '--split', 'head', '--from', '11', '--threads', str(T),
                               '--batch', '1', '--runs', '1'], parse=parse_jsonl))
            J.append(dict(name='ours bench --decompose heads from11 T%d B1' % T, key=('ours-h11', T, 1),
                          cmd=[VITRUN, 'bench', m, '--weights', W, '--decompose', '--split', 'head',
                               '--from', '11', '--threads', str(T), '--batch', '1', '--runs', '5'],
                          parse=parse_jsonl))
    return J


def directions16():
    """k = 16 seeded directions [16, 768], the file bench/decompose/cost.py uses."""
    import cost
    return cost.directions_file()


def make_inputs():
    sys.path.insert(0, os.path.join(REPO, 'tests', 'reference'))
    import refcommon as rc
    from collections import OrderedDict
    x = rc.load_safetensors(w('input.safetensors'))['image']
    for n in (1, 8):
        p = w('input%d.safetensors' % n)
        if not os.path.exists(p):
            rc.save_safetensors(p, OrderedDict(image=x[[i % x.shape[0] for i in range(n)]]))


def cmd_timing(args):
    m = module()
    make_inputs()
    jobs = []
    if not args.tokens_only:
        jobs += jobs_heads(m, args)
    if args.tokens or args.tokens_only:
        jobs += jobs_tokens(m, args)
    if args.only:
        jobs = [j for j in jobs if any(s in j['name'] for s in args.only.split(','))]
    records = []
    print('machine: nproc %d, loadavg %s' % (os.cpu_count(), loadavg()), flush=True)
    for rnd in range(args.rounds):
        for j in jobs:
            rec = measure(j, args)
            rec.update(round=rnd, key=list(j['key']), cmd=' '.join(rel(c) if c.startswith(REPO) else c
                                                                 for c in j['cmd']),
                       env='OMP_WAIT_POLICY=PASSIVE' if j.get('env') else '')
            records.append(rec)
            print('[%d] %-46s %10.1f ms/img  busy %.2f  load %s  rss %s' % (
                rnd, j['name'], rec['value_ms'], rec['busy'], rec['loadavg'], rec['max_rss_kib']), flush=True)
            with open(w(args.out), 'w') as f:
                json.dump(dict(records=records, openblas_coretype=os.environ.get('OPENBLAS_CORETYPE')), f, indent=1)
    # summary
    print('\n%-46s %10s %10s %10s %6s' % ('job', 'median', 'min', 'max', 'n'))
    for j in jobs:
        v = [r['value_ms'] for r in records if r['name'] == j['name']]
        print('%-46s %10.1f %10.1f %10.1f %6d' % (j['name'], statistics.median(v), min(v), max(v), len(v)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('equality')
    p.add_argument('--modes', nargs='*', help='subset of: ' + ' '.join(m[0] for m in MODES))
    p.add_argument('--reuse', action='store_true', help='keep existing reference outputs')
    p = sub.add_parser('timing')
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--tokens', action='store_true', help='also heads+tokens (see --token-from)')
    p.add_argument('--token-from', default='11',
                   help='comma-separated start blocks for heads+tokens (11; the reference needs about '
                        '9 GB from block 10 and 14 GB from block 9)')
    p.add_argument('--tokens-only', action='store_true')
    p.add_argument('--only', help='comma-separated substrings of job names')
    p.add_argument('--max-busy', type=float, default=0.25)
    p.add_argument('--retries', type=int, default=2)
    p.add_argument('--quiet-wait', type=float, default=20.0)
    p.add_argument('--out', default='timing.json')
    args = ap.parse_args()
    {'equality': cmd_equality, 'timing': cmd_timing}[args.cmd](args)


if __name__ == '__main__':
    main()
