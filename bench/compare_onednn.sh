#!/bin/sh
# recur's recurrent stack against oneDNN's RNN primitives on this CPU, side by side: forward
# (training) + backward of the layer alone, dense input, dY = ones (see bench/README.md).
# Usage: bench/compare_onednn.sh [BUILD_DIR] [--seconds S] [--repeats N] [--only A,B,C]
#                                [--cells rnn,gru,lstm] [--threads 1,2] [--coretype NAME] [--simd avx2]
# --simd avx2 runs both sides on AVX2 on a wider CPU (RECUR_SIMD, DNNL_MAX_CPU_ISA=AVX2 and
# OpenBLAS's Haswell kernels): what an AVX2-only CPU runs.
# Installs libdnnl-dev if its headers are missing (apt-get, as root or through sudo), builds
# bench/onednn_layer.cpp into BUILD_DIR (default: build) with g++ and the `recur` tool there if
# needed, checks oneDNN's gradients on a tiny stack, then times both sides alternately and prints
# markdown tables: each side at its best thread count, and both at 1 thread; the best of --repeats.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build=$1
  shift
fi

if [ ! -f /usr/include/oneapi/dnnl/dnnl.hpp ]; then
  if [ "$(id -u)" = 0 ]; then
    sudo=
  elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
  else
    echo "compare_onednn: libdnnl-dev is not installed and neither root nor sudo is available to install it."
    exit 1
  fi
  $sudo apt-get update
  $sudo apt-get install -y libdnnl-dev
fi

mkdir -p "$build"
if [ ! -x "$build/onednn_layer" ] || [ "$root/bench/onednn_layer.cpp" -nt "$build/onednn_layer" ]; then
  # oneDNN generates its kernels at run time for the CPU it finds, so no -march here.
  g++ -O3 -std=c++17 -fopenmp "$root/bench/onednn_layer.cpp" -o "$build/onednn_layer" -ldnnl
fi
if ! "$build/recur" bench layer --help >/dev/null 2>&1; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" -j"$(nproc)" --target recur_cli
fi

exec python3 - "$build" "$@" <<'EOF'
import argparse
import os
import re
import subprocess
import sys
import time

# name -> (steps T, batch B, input I, hidden H, layers L), the shapes of bench/compare_pytorch.py.
CONFIGS = {"A": (32, 1024, 28, 32, 1), "B": (35, 32, 28, 256, 1), "C": (50, 50, 65, 512, 2)}

build = sys.argv[1]
ap = argparse.ArgumentParser(prog="compare_onednn.sh [BUILD_DIR]")
ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per run")
ap.add_argument("--repeats", type=int, default=1, help="alternating runs per side and thread count (best kept)")
ap.add_argument("--only", default="A,B,C", help="configurations")
ap.add_argument("--cells", default="rnn,gru,lstm")
ap.add_argument("--threads", default="1,2", help="thread counts to try")
ap.add_argument("--coretype", default=None, help="OPENBLAS_CORETYPE for recur (default: SkylakeX with AVX-512, else Haswell)")
ap.add_argument("--simd", default=None, help="avx512 or avx2: RECUR_SIMD for recur, DNNL_MAX_CPU_ISA for oneDNN")
args = ap.parse_args(sys.argv[2:])
recur, onednn = os.path.join(build, "recur"), os.path.join(build, "onednn_layer")

with open("/proc/cpuinfo") as f:
    cpuinfo = f.read()
found = re.search(r"model name\s*:\s*(.*)", cpuinfo)
cpu = found.group(1) if found else "unknown"
# The BLAS core compare_pytorch.py uses, so that the two comparisons run recur the same way.
wide = "avx512f" in cpuinfo and args.simd in (None, "avx512")
coretype = args.coretype or ("SkylakeX" if wide else "Haswell")
env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
if args.simd:
    env["RECUR_SIMD"] = args.simd
    env["DNNL_MAX_CPU_ISA"] = {"avx512": "AVX512_CORE_BF16", "avx2": "AVX2", "sse4": "SSE41"}.get(args.simd, "ALL")


def run(cmd, threads):
    """Runs cmd with `threads` OpenMP threads; returns (tokens/s, stdout), or (None, message)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(env, OMP_NUM_THREADS=str(threads)))
    lines = proc.stdout.strip().splitlines()
    m = re.fullmatch(r"tokens_per_s=([0-9.eE+]+)", lines[-1]) if lines else None
    if proc.returncode != 0 or not m:
        return None, (proc.stderr + proc.stdout).strip()
    return float(m.group(1)), proc.stdout


def field(text, name):
    m = re.search(name + r"=(\S+)", text or "")
    return m.group(1) if m else "?"


cells = args.cells.split(",")
threads = [int(t) for t in args.threads.split(",")]
print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}  cpu: {cpu}  cores: {os.cpu_count()}  "
      f"load: {os.getloadavg()[0]:.2f}")
print(f"env: OPENBLAS_CORETYPE={coretype} OMP_NUM_THREADS=threads; {args.seconds} s per run, best of {args.repeats}")

# oneDNN's gradients against central differences on a tiny two-group stack (I != H, 2 layers).
for cell in cells:
    proc = subprocess.run([onednn, "--cell", cell, "--layers", "2", "--hidden", "20", "--input", "7", "--batch",
                           "3", "--steps", "6", "--check"], capture_output=True, text=True, env=env)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()
    print(f"oneDNN gradient check, {cell}: {'ok' if proc.returncode == 0 else 'FAILED'} ({last})")

results = {}  # (config, cell, side, threads) -> best tokens/s
notes = {}
for name in args.only.split(","):
    if name not in CONFIGS:
        sys.exit(f"compare_onednn: unknown configuration {name} (expected {', '.join(CONFIGS)})")
    T, B, I, H, L = CONFIGS[name]
    for cell in cells:
        shape = ["--cell", cell, "--layers", str(L), "--hidden", str(H), "--input", str(I), "--batch", str(B),
                 "--steps", str(T), "--seconds", str(args.seconds)]
        for _ in range(args.repeats):
            for t in threads:
                for side, cmd in (("recur", [recur, "bench", "layer", *shape, "--threads", str(t)]),
                                  ("onednn", [onednn, *shape, "--threads", str(t)])):
                    value, out = run(cmd, t)
                    if value is None:
                        print(f"{side} failed on {name} {cell} threads {t}:\n{out}", file=sys.stderr)
                        continue
                    key = (name, cell, side, t)
                    results[key] = max(results.get(key, 0.0), value)
                    notes.setdefault(side, out)
        print(f"  measured {name} {cell}", file=sys.stderr, flush=True)

tile = field(notes.get('recur'), 'avx2_tile')
print(f"recur: simd={field(notes.get('recur'), 'simd')} blas_core={field(notes.get('recur'), 'blas_core')}"
      f"{'' if tile == '?' else ' avx2_tile=' + tile} ({recur})")
print(f"oneDNN: version={field(notes.get('onednn'), 'onednn')} isa={field(notes.get('onednn'), 'isa')} "
      f"(Debian libdnnl, OpenMP; {onednn})")
print("A: T 32, B 1024, I 28, H 32, 1 layer. B: T 35, B 32, I 28, H 256, 1 layer. "
      "C: T 50, B 50, I 65, H 512, 2 layers.")


def fmt(v):
    return f"{v:,.0f}".replace(",", " ") if v else "failed"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


print("\nBest thread count (tokens/s, forward training + backward of the stack):\n")
print("| config | cell | recur | thr | oneDNN | thr | recur / oneDNN |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for name in args.only.split(","):
    for cell in cells:
        best = {}
        for side in ("recur", "onednn"):
            by_t = {t: results.get((name, cell, side, t), 0.0) for t in threads}
            t = max(by_t, key=by_t.get)
            best[side] = (by_t[t], t)
        print(f"| {name} | {cell} | {fmt(best['recur'][0])} | {best['recur'][1]} | {fmt(best['onednn'][0])} | "
              f"{best['onednn'][1]} | {ratio(best['recur'][0], best['onednn'][0])} |")

if 1 in threads:
    print("\n1 thread (tokens/s):\n")
    print("| config | cell | recur | oneDNN | recur / oneDNN |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name in args.only.split(","):
        for cell in cells:
            r, o = results.get((name, cell, "recur", 1)), results.get((name, cell, "onednn", 1))
            print(f"| {name} | {cell} | {fmt(r)} | {fmt(o)} | {ratio(r, o)} |")
EOF
