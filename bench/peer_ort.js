#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node, CPU) peer for the ViT benchmarks.
//
//   node peer_ort.js --model scratch/model.onnx --batch B --threads T --runs R
//   node peer_ort.js --model scratch/model.onnx --check scratch/check_input.bin \
//        --expect scratch/check_logits.bin
//
// Prints one JSON line of information ({"info": {...}}), then one JSON line
// per run: {"ms_per_image": x}. The first run is not special here: the caller
// decides what counts as warm-up. intraOpNumThreads = T, interOpNumThreads = 1,
// sequential execution, all graph optimisations.
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const a = { model: path.join(__dirname, 'scratch', 'model.onnx'), batch: 1, threads: 1, runs: 5,
              img: 224, seed: 1, check: null, expect: null, tol: 1e-3 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (!(k in a)) { console.error(`peer_ort: unknown option --${k}`); process.exit(2); }
    a[k] = typeof a[k] === 'number' ? Number(v) : v;
  }
  return a;
}

function randomInput(n, seed) {
  // xorshift32 + Box-Muller: deterministic, unit normal values.
  let s = (seed >>> 0) || 1;
  const u = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 4294967296; };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())), t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

function readF32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

async function main() {
  const a = parseArgs(process.argv);
  const ort = require('onnxruntime-node');
  const version = require('onnxruntime-node/package.json').version;
  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, opts);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const inName = session.inputNames[0], outName = session.outputNames[0];
  console.log(JSON.stringify({ info: { runtime: 'onnxruntime-node', version, node: process.version,
                                       threads: a.threads, batch: a.batch, load_ms: +loadMs.toFixed(1) } }));

  if (a.check) {
    const x = readF32(a.check);
    const n = x.length / (3 * a.img * a.img);
    const feeds = { [inName]: new ort.Tensor('float32', x, [n, 3, a.img, a.img]) };
    const y = (await session.run(feeds))[outName].data;
    let maxAbs = 0, maxRef = 0;
    if (a.expect) {
      const r = readF32(a.expect);
      if (r.length !== y.length) throw new Error(`check: ${y.length} outputs, expected ${r.length}`);
      for (let i = 0; i < y.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(y[i] - r[i]));
        maxRef = Math.max(maxRef, Math.abs(r[i]));
      }
    }
    const ok = !a.expect || maxAbs <= a.tol * Math.max(1, maxRef);
    console.log(JSON.stringify({ check: { batch: n, outputs: y.length, max_abs_diff: maxAbs, max_abs_ref: maxRef, ok } }));
    process.exit(ok ? 0 : 1);
  }

  const shape = [a.batch, 3, a.img, a.img];
  const x = randomInput(shape.reduce((p, q) => p * q, 1), a.seed);
  const feeds = { [inName]: new ort.Tensor('float32', x, shape) };
  for (let r = 0; r < a.runs; r++) {
    const s = process.hrtime.bigint();
    const out = await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    if (out[outName].dims[0] !== a.batch) throw new Error('unexpected output shape');
    console.log(JSON.stringify({ ms_per_image: +(ms / a.batch).toFixed(3) }));
  }
}

main().catch((e) => { console.error(`peer_ort: ${e && e.stack || e}`); process.exit(1); });
