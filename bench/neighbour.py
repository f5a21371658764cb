#!/usr/bin/env python3
"""Sharing the machine: how much each tool's 2-thread throughput falls when a
neighbour holds one core.

    PYTHONPATH=<timm checkout> /usr/bin/python3 bench/neighbour.py [--runs 3] [--workloads 8x2,1x2]

Runs bench/run.py twice in one invocation, on the same workloads and tools:
first on a quiet machine, then with a neighbour (one process spinning in a
busy loop at normal priority, started before and stopped after the second
pass; run.py's busy check is relaxed for that pass since the neighbour is the
point). Prints and writes (--out, JSON) each tool's median ms per image in both
conditions and the fall, quiet / shared throughput; --write BENCHMARKS.md also
rewrites that file's "neighbour" section (--markdown-only JSON: only that, from
an earlier run). Also reports, for each run
of ours, the CPU time it used against its wall time: a tool whose threads spin
while waiting burns CPU that the neighbour wanted.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def run_pass(args, tag, max_busy):
    out = os.path.join(args.work_dir, 'neighbour_%s' % tag)
    if os.path.isdir(out):
        for f in os.listdir(out):
            os.unlink(os.path.join(out, f))
    cmd = [sys.executable, os.path.join(HERE, 'run.py'), '--workloads', args.workloads, '--runs', str(args.runs),
           '--tools', args.tools, '--max-busy', str(max_busy), '--no-markdown', '--results', out]
    if max_busy >= 1:
        cmd += ['--retries', '0', '--quiet-wait', '0']
    print('+ ' + ' '.join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd), flush=True)
    subprocess.run(cmd, check=True)
    files = [f for f in os.listdir(out) if f.endswith('.json')]
    with open(os.path.join(out, files[0])) as f:
        return json.load(f)


def summary(res):
    s = {}
    for wl in res['workloads']:
        key = '%dx%d' % (wl['batch'], wl['threads'])
        for tool, t in wl['tools'].items():
            sm = t.get('summary') or {}
            if 'median_ms' not in sm:
                continue
            cpu = [x['cpu_s'] / x['wall_s'] for x in t.get('samples', []) if x.get('wall_s')]
            s[(key, tool)] = dict(median_ms=sm['median_ms'], cpu_per_wall=round(sorted(cpu)[len(cpu) // 2], 2) if cpu else None)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--workloads', default='8x2,1x2')
    ap.add_argument('--tools', default='ours,ort')
    ap.add_argument('--work-dir', default=os.path.join(HERE, 'scratch'))
    ap.add_argument('--out', default=os.path.join(HERE, 'scratch', 'neighbour.json'))
    ap.add_argument('--write', metavar='BENCHMARKS.md', help='rewrite its "neighbour" section')
    ap.add_argument('--markdown-only', metavar='JSON', help='only write the section, from this earlier --out')
    args = ap.parse_args()
    if args.markdown_only:
        with open(args.markdown_only) as f:
            write_markdown(json.load(f), args.write or os.path.join(REPO, 'BENCHMARKS.md'))
        return
    os.makedirs(args.work_dir, exist_ok=True)
    quiet_load = os.getloadavg()[0]
    quiet = summary(run_pass(args, 'quiet', 0.25))
    hog = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        time.sleep(1)
        shared = summary(run_pass(args, 'shared', 1.0))
    finally:
        hog.kill()
        hog.wait()
    rows = []
    print('\n%-6s %-6s %12s %12s %8s %10s %10s' % ('load', 'tool', 'quiet ms', 'shared ms', 'fall', 'cpu/wall q', 'cpu/wall s'))
    for k in sorted(quiet):
        if k not in shared:
            continue
        q, s = quiet[k], shared[k]
        fall = s['median_ms'] / q['median_ms']
        rows.append(dict(workload=k[0], tool=k[1], quiet_ms=q['median_ms'], shared_ms=s['median_ms'], fall=round(fall, 3),
                         cpu_per_wall_quiet=q['cpu_per_wall'], cpu_per_wall_shared=s['cpu_per_wall']))
        print('%-6s %-6s %12.1f %12.1f %7.2fx %10s %10s' % (k[0], k[1], q['median_ms'], s['median_ms'], fall,
                                                         q['cpu_per_wall'], s['cpu_per_wall']))
    res = dict(rows=rows, runs=args.runs, workloads=args.workloads, tools=args.tools, commit=git_commit(),
               loadavg_before=quiet_load, date=time.strftime('%Y-%m-%d %H:%M'))
    with open(args.out, 'w') as f:
        json.dump(res, f, indent=1)
    if args.write:
        write_markdown(res, args.write)


def git_commit():
    try:
        return subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return '?'


NAMES = {'ours': 'vitrun', 'ort': 'ONNX Runtime', 'torch': 'PyTorch'}


def write_markdown(res, path):
    sys.path.insert(0, HERE)
    import mdsplice
    L = ['## Sharing the machine: a neighbour on one core', '',
         'ViT-B/16 forward (bench/run.py\'s model and tools), 2 threads; first on a quiet machine, then with a '
         'neighbour process spinning on one core at normal priority. Each cell: median of %d runs (fresh '
         'processes, alternated). vitrun built from %s, %s.' % (res['runs'], res.get('commit', '?'), res.get('date', '')),
         '', '    PYTHONPATH=<timm checkout> /usr/bin/python3 bench/neighbour.py --runs %d --workloads %s --write BENCHMARKS.md'
         % (res['runs'], res['workloads']), '',
         '| batch x threads | tool | quiet ms / image | with the neighbour | fall (x slower) | CPU / wall, quiet | CPU / wall, shared |',
         '|---|---|---|---|---|---|---|']
    for r in res['rows']:
        b, t = r['workload'].split('x')
        L.append('| %s x %s | %s | %.1f | %.1f | %.2fx | %s | %s |' % (b, t, NAMES.get(r['tool'], r['tool']), r['quiet_ms'],
                 r['shared_ms'], r['fall'], r['cpu_per_wall_quiet'], r['cpu_per_wall_shared']))
    L += ['', 'CPU / wall: the process\'s CPU time over its wall time (whole process, start-up included); '
          'near 2 on the quiet machine means both cores were busy, whether computing or spinning.']
    mdsplice.splice(path, 'neighbour', '\n'.join(L) + '\n')


if __name__ == '__main__':
    main()
