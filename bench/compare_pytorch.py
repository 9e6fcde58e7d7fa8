#!/usr/bin/python3
"""recur against PyTorch on the CPU, side by side: the same models, data, threads and BLAS.

Runs `recur bench train|generate` and this file's own PyTorch twin (run as a child process with
--torch-worker) on configurations A, B, C (training) and G (generation), alternating the two sides
several times, and prints per configuration the median tokens/s of each side at its best thread
count, the ratio recur/PyTorch, and each side's peak resident memory (ru_maxrss of the child).

    bench/compare_pytorch.py --recur build/recur [--repeats 3] [--seconds 2] [--only A,B] [--cells gru]
                             [--simd avx2]

Environment, the same for both sides: OpenBLAS from Debian's openblas-pthread folder (PyTorch calls
libblas.so.3, which may be the reference BLAS, so LD_LIBRARY_PATH points it at OpenBLAS's),
OPENBLAS_CORETYPE (default SkylakeX when the CPU has AVX-512, else Haswell) and
OMP_WAIT_POLICY=passive. --simd avx2 measures the AVX2 paths of both sides on an AVX-512 machine
(RECUR_SIMD, ATEN_CPU_CAPABILITY, and the Haswell kernels of OpenBLAS): what an AVX2-only CPU runs. Threads 1 and 2 are both run (OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
set to the count as well as torch.set_num_threads: OpenBLAS ignores the latter and would otherwise
start a thread per core); each side's best counts.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"

# name -> (batch, steps, hidden, layers, vocab)
TRAIN_CONFIGS = {
    "A": (1024, 32, 32, 1, 28),
    "B": (32, 35, 256, 1, 28),
    "C": (50, 50, 512, 2, 65),
}
GEN_CONFIGS = {"G-B": "B", "G-C": "C"}  # generation with the B and C models
CELLS = ["rnn_tanh", "gru", "lstm"]
GATES = {"rnn_tanh": 1, "gru": 3, "lstm": 4}


def gemm_flops_per_token(cell, H, L, V):
    """GEMM work of one training token: per layer the input projection, dW_ih and (above the first
    layer) dx, 2*G*H*I each; the recurrent product forward and backward and dW_hh, 2*G*H*H each;
    the head forward, dW and dh, 2*V*H each."""
    G = GATES[cell]
    total = 6 * V * H
    for layer in range(L):
        inputs = V if layer == 0 else H
        total += 2 * G * H * inputs * (2 if layer == 0 else 3) + 6 * G * H * H
    return total


# ---------------------------------------------------------------------------------------------
# PyTorch side (run in a child process so that its peak memory is its own).
def torch_worker(args):
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    V, H, L = args.vocab, args.hidden, args.layers
    rnn_cls = {"rnn_tanh": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[args.cell]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn_cls(V, H, L)
            self.head = nn.Linear(H, V)

        def forward(self, x, state):  # x [T, B] ids, time-major
            y, state = self.rnn(nn.functional.one_hot(x, V).float(), state)
            return self.head(y.reshape(-1, H)), state

    model = Model()

    def detach(s):
        return tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach()

    def zero_state(batch):
        h = torch.zeros(L, batch, H)
        return (h, torch.zeros(L, batch, H)) if args.cell == "lstm" else h

    if args.mode == "train":
        B, T = args.batch, args.steps
        nb = 8
        g = torch.Generator().manual_seed(1)
        tokens = torch.randint(0, V, (nb * B * T + 1,), generator=g)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        state = zero_state(B)
        step = 0

        def train_step():
            nonlocal state, step
            off = (step % nb) * B * T
            x = tokens[off:off + B * T].view(T, B)
            y = tokens[off + 1:off + 1 + B * T]
            state = detach(state)
            opt.zero_grad()
            logits, state = model(x, state)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1

        for _ in range(3):
            train_step()
        t0 = time.perf_counter()
        n = 0
        while True:
            train_step()
            n += 1
            if time.perf_counter() - t0 >= args.seconds:
                break
        dt = time.perf_counter() - t0
        print(f"tokens_per_s={n * B * T / dt:.1f}")
    else:
        prefix = torch.randint(0, V, (10,), generator=torch.Generator().manual_seed(1))

        @torch.no_grad()
        def generate(length):
            state = zero_state(1)
            logits, state = model(prefix.view(-1, 1), state)
            nxt = int(logits[-1].argmax())
            out = [nxt]
            x = torch.empty(1, 1, dtype=torch.long)
            for _ in range(length - 1):
                x[0, 0] = nxt
                logits, state = model(x, state)
                nxt = int(logits[-1].argmax())
                out.append(nxt)
            return out

        generate(50)
        best = 0.0
        t0 = time.perf_counter()
        while True:
            t1 = time.perf_counter()
            out = generate(args.length)
            best = max(best, len(out) / (time.perf_counter() - t1))
            if time.perf_counter() - t0 >= args.seconds:
                break
        print(f"chars_per_s={best:.1f}")
    # Which BLAS this process really loaded.
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
    print("blas_libs=" + ",".join(libs), file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Driver.
def run_child(cmd, env):
    """Runs cmd; returns (last line's number, peak RSS in MiB, stderr)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    # communicate() reaped the child; ru_maxrss of RUSAGE_CHILDREN is a maximum over all children,
    # so take it from wait4 instead: run through a tiny wrapper that reports its own rusage.
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}{out}")
    lines = [l for l in out.strip().splitlines() if "=" in l]
    m = re.match(r"\w+=([0-9.eE+]+)", lines[-1])
    rss = re.search(r"peak_rss_kib=(\d+)", err)
    return float(m.group(1)), (int(rss.group(1)) / 1024 if rss else float("nan")), err


def timed_cmd(cmd):
    """Wraps cmd so that its peak RSS (kB, from wait4) is printed on stderr."""
    code = ("import os,sys,resource;pid=os.fork()\n"
            "if pid==0: os.execvp(sys.argv[1],sys.argv[1:])\n"
            "_,st,ru=os.wait4(pid,0);sys.stderr.write('peak_rss_kib=%d\\n'%ru.ru_maxrss);"
            "sys.exit(os.waitstatus_to_exitcode(st))")
    return [sys.executable, "-c", code] + cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recur", default=os.path.join(os.path.dirname(__file__), "..", "build", "recur"))
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per side and thread count")
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per run")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="A,B,C,G-B,G-C", help="configurations to run")
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--bench-gemm", default=None, help="bench_gemm binary (default: next to recur's build)")
    ap.add_argument("--coretype", default=None,
                    help="OPENBLAS_CORETYPE (default: SkylakeX when the CPU has AVX-512 and --simd allows it, else Haswell)")
    ap.add_argument("--simd", default=None,
                    help="SIMD target for both sides: RECUR_SIMD for recur (avx512, avx2, sse4, scalar) and "
                         "ATEN_CPU_CAPABILITY for PyTorch (avx512, avx2, else default)")
    # worker arguments
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="train", help=argparse.SUPPRESS)
    ap.add_argument("--cell", default="gru", help=argparse.SUPPRESS)
    for name in ("batch", "steps", "hidden", "layers", "vocab", "length"):
        ap.add_argument("--" + name, type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--nthreads", dest="threads_n", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        args.threads = args.threads_n
        torch_worker(args)
        return 0

    try:
        import torch  # noqa: F401
    except ImportError:
        print("compare_pytorch: PyTorch (python3-torch) is not installed for", sys.executable,
              "- nothing to compare against; stopping.")
        return 0
    if not os.access(args.recur, os.X_OK):
        print(f"compare_pytorch: no recur binary at {args.recur} (build it, or pass --recur)")
        return 1

    with open("/proc/cpuinfo") as f:
        cpuinfo = f.read()
    cpu = re.search(r"model name\s*:\s*(.*)", cpuinfo).group(1)
    wide = "avx512f" in cpuinfo and args.simd in (None, "avx512")
    coretype = args.coretype or ("SkylakeX" if wide else "Haswell")
    env = dict(os.environ, OPENBLAS_CORETYPE=coretype, OMP_WAIT_POLICY="passive")
    if args.simd:
        env["RECUR_SIMD"] = args.simd
        env["ATEN_CPU_CAPABILITY"] = args.simd if args.simd in ("avx512", "avx2") else "default"
    if os.path.isdir(OPENBLAS_DIR):
        env["LD_LIBRARY_PATH"] = OPENBLAS_DIR + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    threads = [int(t) for t in args.threads.split(",")]
    cells = args.cells.split(",")
    only = args.only.split(",")

    ldd = subprocess.run(["ldd", args.recur], capture_output=True, text=True, env=env).stdout
    recur_blas = ",".join(sorted({l.split("=>")[1].split()[0] for l in ldd.splitlines() if "blas" in l and "=>" in l}))
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}  cpu: {cpu}  cores: {os.cpu_count()}  "
          f"load: {os.getloadavg()[0]:.2f}")
    print(f"env: OPENBLAS_CORETYPE={coretype} OMP_WAIT_POLICY=passive OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=threads LD_LIBRARY_PATH={env.get('LD_LIBRARY_PATH', '')}")
    print(f"recur BLAS: {recur_blas}")
    version = subprocess.run([args.recur, "--version"], capture_output=True, text=True, env=env)
    if version.returncode != 0:
        print(f"compare_pytorch: {args.recur} --version failed:\n{version.stderr}")
        return 1
    simd = re.search(r"simd: (\S+)", version.stdout)
    print(f"recur SIMD target: {simd.group(1) if simd else '?'}  ({args.recur} --version: "
          f"{' | '.join(version.stdout.strip().splitlines())})")
    capability = subprocess.run([sys.executable, "-c", "import torch; print(torch.__config__.show())"],
                                capture_output=True, text=True, env=env).stdout
    found = re.search(r"CPU capability usage: (\S+)", capability)
    print(f"PyTorch CPU capability: {found.group(1) if found else '?'} (ATEN_CPU_CAPABILITY="
          f"{env.get('ATEN_CPU_CAPABILITY', 'unset')})")
    me = os.path.abspath(__file__)
    torch_blas_printed = False

    jobs = []
    for name in only:
        if name in TRAIN_CONFIGS:
            for cell in cells:
                jobs.append((name, cell, "train", TRAIN_CONFIGS[name]))
        elif name in GEN_CONFIGS:
            for cell in cells:
                jobs.append((name, cell, "generate", TRAIN_CONFIGS[GEN_CONFIGS[name]]))
        else:
            print(f"unknown configuration {name}")
            return 1

    c_results = {}  # cell -> {threads: recur median tokens/s} for configuration C
    print(f"\n{'config':7} {'cell':9} {'recur/s':>10} {'thr':>3} {'torch/s':>10} {'thr':>3} {'ratio':>6} "
          f"{'recur MiB':>9} {'torch MiB':>9}  (median of {args.repeats}; tokens/s, generation chars/s)")
    for name, cell, mode, (B, T, H, L, V) in jobs:
        results = {("recur", t): [] for t in threads} | {("torch", t): [] for t in threads}
        rss = {"recur": 0.0, "torch": 0.0}
        for _ in range(args.repeats):
            for t in threads:
                common = ["--cell", cell, "--hidden", str(H), "--layers", str(L), "--vocab", str(V)]
                if mode == "train":
                    rcmd = [args.recur, "bench", "train", *common, "--batch", str(B), "--steps", str(T),
                            "--seconds", str(args.seconds), "--threads", str(t)]
                    tcmd = [sys.executable, me, "--torch-worker", "--mode", "train", "--cell", cell, "--batch", str(B),
                            "--steps", str(T), "--hidden", str(H), "--layers", str(L), "--vocab", str(V),
                            "--nthreads", str(t), "--seconds", str(args.seconds)]
                else:
                    rcmd = [args.recur, "bench", "generate", *common, "--length", "2000", "--seconds",
                            str(args.seconds), "--threads", str(t)]
                    tcmd = [sys.executable, me, "--torch-worker", "--mode", "generate", "--cell", cell,
                            "--hidden", str(H), "--layers", str(L), "--vocab", str(V), "--length", "2000",
                            "--nthreads", str(t), "--seconds", str(args.seconds)]
                tenv = dict(env, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
                v, m, _ = run_child(timed_cmd(rcmd), tenv)
                results[("recur", t)].append(v)
                rss["recur"] = max(rss["recur"], m)
                v, m, err = run_child(timed_cmd(tcmd), tenv)
                results[("torch", t)].append(v)
                rss["torch"] = max(rss["torch"], m)
                if not torch_blas_printed:
                    found = re.search(r"blas_libs=(.*)", err)
                    print(f"PyTorch {torch.__version__} BLAS: {found.group(1) if found else '?'}")
                    torch_blas_printed = True
        best = {}
        if name == "C" and mode == "train":
            c_results[cell] = {t: statistics.median(results[("recur", t)]) for t in threads}
        for side in ("recur", "torch"):
            med = {t: statistics.median(results[(side, t)]) for t in threads}
            bt = max(med, key=med.get)
            best[side] = (med[bt], bt)
        ratio = best["recur"][0] / best["torch"][0]
        print(f"{name + ('' if mode == 'train' else ''):7} {cell:9} {best['recur'][0]:10.0f} {best['recur'][1]:3d} "
              f"{best['torch'][0]:10.0f} {best['torch'][1]:3d} {ratio:6.2f} {rss['recur']:9.1f} {rss['torch']:9.1f}",
              flush=True)

    # Configuration C against the machine's sgemm ceiling (a 2048^3 product in the same environment):
    # the faster of recur's split over its threads (bm_sgemm) and OpenBLAS's own pool.
    bench_gemm = args.bench_gemm or os.path.join(os.path.dirname(os.path.abspath(args.recur)), "bench", "bench_gemm")
    if c_results and os.access(bench_gemm, os.X_OK):
        B, T, H, L, V = TRAIN_CONFIGS["C"]
        print(f"\nC against sgemm 2048^3 ({bench_gemm}), at each thread count:")
        peaks = {}
        for t in threads:
            out = subprocess.run([bench_gemm, "--threads", str(t),
                                  "--benchmark_filter=bm_sgemm.*/M:2048/K:2048/N:2048", "--benchmark_min_time=0.5"],
                                 capture_output=True, text=True,
                                 env=dict(env, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))).stdout
            rates = [float(v) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[unit]
                     for v, unit in re.findall(r"GFLOP=([0-9.]+)([kMG]?)/s", out)]
            if not rates:
                print(f"  could not read bench_gemm's output:\n{out}")
                break
            peaks[t] = max(rates)
        for cell, by_threads in c_results.items():
            for t, tps in by_threads.items():
                if t not in peaks:
                    continue
                model = tps * gemm_flops_per_token(cell, H, L, V) / 1e9
                print(f"  {cell:9} threads {t}: model GEMM work {model:6.1f} GFLOP/s, sgemm {peaks[t]:6.1f} GFLOP/s, "
                      f"{100 * model / peaks[t]:5.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
