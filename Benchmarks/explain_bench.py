#!/usr/bin/env python3
"""`bosun policy explain --config DIR -- git status` as a whole process (issue 10), with the
example check cached (the second call onwards: the cache file under $XDG_CACHE_HOME/bosun) and
uncached (no HOME, no XDG_CACHE_HOME: every rule's examples checked, as before), side by side with
the floor: the same command against a configuration with no policies (process start and explain
alone), samples interleaved. The repository's policies. Each line gives the wall-clock p50/p90 and the
mean CPU time per call (user + system of the child), which a loaded machine inflates far less.

With --instructions, also the instructions each build executes per cached call and per floor call
(valgrind's lackey tool, user space only: exact and untouched by load, unlike the times; the
kernel's share of starting a process, page faults and the loader's mappings, is not in it).

Usage: Benchmarks/explain_bench.py [--samples 40] [--bin DIR] [--baseline-bin DIR] [--instructions] [--smoke]
"""
import argparse, os, re, resource, shutil, subprocess, sys, tempfile, time

from benchlib import ROOT, pct


CPU = {}  # (build, what) -> CPU milliseconds per call (user + system of the child), which load inflates less


def mean(values):
    # Per call the kernel may account CPU in scheduler ticks: only the mean over many calls is meaningful.
    return sum(values) / len(values)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv, env, key=None):
    cpu = children_cpu()
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, env=env)
    wall = (time.monotonic() - t) * 1000
    # `policy explain` exits with the verdict: 0 allow, 1 deny, 2 ask; anything else is a failure.
    if r.returncode not in (0, 1, 2) or not r.stdout:
        sys.exit(f"{argv} failed ({r.returncode}): {r.stderr!r}")
    if key is not None:
        CPU.setdefault(key, []).append((children_cpu() - cpu) * 1000)
    return wall


def instructions(argv, env):
    """User-space instructions of one run under valgrind's lackey (which counts every guest instruction)."""
    r = subprocess.run(["valgrind", "--tool=lackey", "--basic-counts=yes", *argv], capture_output=True, env=env,
                       text=True)
    found = re.search(r"guest instrs:\s+([\d,]+)", r.stderr)
    if not found:
        sys.exit(f"valgrind gave no instruction count for {argv}: {r.stderr[-500:]!r}")
    return int(found.group(1).replace(",", ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--baseline-bin", default=None, help="another build's bin directory, run side by side")
    ap.add_argument("--instructions", action="store_true", help="also count instructions under valgrind")
    ap.add_argument("--smoke", action="store_true")
    opts = ap.parse_args()
    if opts.smoke:
        opts.samples = 3
    bindir = opts.bin or subprocess.run(["swift", "build", "--show-bin-path", "-c", "release"], check=True,
                                        capture_output=True, text=True).stdout.strip()
    builds = {"this": f"{bindir}/bosun"}
    if opts.baseline_bin:
        builds["baseline"] = f"{opts.baseline_bin}/bosun"
    scratch = tempfile.mkdtemp(prefix="bosun-explain-", dir="/tmp")
    try:
        os.makedirs(f"{scratch}/config/policies")
        os.makedirs(f"{scratch}/empty")
        for name in os.listdir(f"{ROOT}/policies"):
            if name.endswith(".toml"):
                shutil.copy(f"{ROOT}/policies/{name}", f"{scratch}/config/policies/{name}")
        cached = dict(os.environ, XDG_CACHE_HOME=f"{scratch}/cache")
        uncached = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME")}
        results = {}
        for _ in range(opts.samples):
            for name, bosun in builds.items():
                explain = [bosun, "policy", "explain", "--config", f"{scratch}/config", "--", "git", "status"]
                for what, argv, env in (
                    ("explain, example check cached", explain, cached),
                    ("explain, examples checked", explain, uncached),
                    ("floor: explain with no policies",
                     [bosun, "policy", "explain", "--config", f"{scratch}/empty", "--", "git", "status"], cached),
                ):
                    results.setdefault((name, what), []).append(timed(argv, env, (name, what)))
        for name in builds:
            floor = pct(results[(name, "floor: explain with no policies")], 50)
            for (build, what), values in results.items():
                if build != name:
                    continue
                print(f"{name} {what}, n={opts.samples}: p50 {pct(values, 50):.1f} ms, p90 {pct(values, 90):.1f} ms"
                      f" ({pct(values, 50) / floor:.1f}x the floor); CPU {mean(CPU[(build, what)]):.1f} ms per call (mean)")
        if opts.instructions:
            for name, bosun in builds.items():
                explain = [bosun, "policy", "explain", "--config", f"{scratch}/config", "--", "git", "status"]
                # The cache key names the running executable: under valgrind the first call checks and records.
                instructions(explain, cached)
                full = instructions(explain, cached)
                floor = instructions([bosun, "policy", "explain", "--config", f"{scratch}/empty", "--", "git", "status"],
                                     cached)
                print(f"{name} instructions: explain, example check cached {full / 1e6:.1f} M; "
                      f"floor {floor / 1e6:.1f} M; policy {(full - floor) / 1e6:.1f} M")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
