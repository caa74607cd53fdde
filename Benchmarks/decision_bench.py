#!/usr/bin/env python3
"""Durable decisions per second through bosund's request path, this build next to another one.

    Benchmarks/decision_bench.py [--requests 20000] [--hosts 50] [--rounds 3]
                                 [--bin .build/release] [--baseline-ref main] [--baseline-bin DIR]

Runs `DecisionBenchmark` (requests injected straight into the fleet's link event queue: policy,
store transaction with synchronous=FULL, delivery, ack) from this build and from a baseline,
alternating, `--rounds` times each, and prints each run and the best of each build with the ratio.

The baseline is a build of `--baseline-ref` (default main) made by this script: the ref's tree
(git archive) plus the same benchmark and the same injection shim (Sources/BosunSupervisor/
Fleet+Benchmark.swift: it only pushes onto the fleet's link event queue, which the ref has), built
with `swift build -c release --product DecisionBenchmark` in `--baseline-dir` (kept between runs).
`--baseline-bin DIR` uses a build already made instead.
"""
import argparse
import os
import re
import subprocess
import sys

from benchlib import ROOT

TARGET = '''        .executableTarget(
            name: "DecisionBenchmark",
            dependencies: [
                "BosunCore", "BosunConfig", "BosunPolicy", "BosunStore", "BosunSupervisor",
                .product(name: "Logging", package: "swift-log"),
            ], path: "Benchmarks/DecisionBenchmark", swiftSettings: swiftSettings),
'''


def build_baseline(ref, directory):
    """The baseline tree: `ref` plus this benchmark and its shim; returns its release bin dir."""
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", ref], check=True, capture_output=True,
                            text=True).stdout.strip()
    tree = os.path.join(directory, commit)
    if not os.path.isdir(tree):
        os.makedirs(tree)
        archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        os.makedirs(os.path.join(tree, "Benchmarks", "DecisionBenchmark"), exist_ok=True)
        for path in ["Benchmarks/DecisionBenchmark/main.swift", "Sources/BosunSupervisor/Fleet+Benchmark.swift"]:
            with open(os.path.join(ROOT, path)) as src, open(os.path.join(tree, path), "w") as dst:
                dst.write(src.read())
        package = os.path.join(tree, "Package.swift")
        text = open(package).read()
        if '"DecisionBenchmark"' not in text:
            text = text.replace('        .executableTarget(\n            name: "PolicyBenchmark"',
                                TARGET + '        .executableTarget(\n            name: "PolicyBenchmark"', 1)
            open(package, "w").write(text)
    print(f"building the baseline ({ref} = {commit}) in {tree} …", file=sys.stderr)
    subprocess.run(["swift", "build", "-c", "release", "--product", "DecisionBenchmark"], cwd=tree, check=True)
    return os.path.join(tree, ".build", "release"), commit


def run(bindir, requests, hosts):
    out = subprocess.run([os.path.join(bindir, "DecisionBenchmark"), str(requests), str(hosts),
                          os.path.join(ROOT, "policies")], check=True, capture_output=True, text=True).stdout
    m = re.search(r"([\d.]+) decisions/s, ([\d.]+) ms CPU per decision", out)
    if not m or "verified" not in out:
        sys.exit(f"unexpected output from {bindir}: {out}")
    return float(m.group(1)), float(m.group(2)), out.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    ap.add_argument("--baseline-ref", default="main")
    ap.add_argument("--baseline-dir", default="/tmp/bosun-decision-baseline")
    ap.add_argument("--baseline-bin", default=None)
    ap.add_argument("--no-baseline", action="store_true")
    opts = ap.parse_args()
    builds = []
    if not opts.no_baseline:
        if opts.baseline_bin:
            builds.append(("baseline", opts.baseline_bin))
        else:
            bindir, commit = build_baseline(opts.baseline_ref, opts.baseline_dir)
            builds.append((f"{opts.baseline_ref} ({commit})", bindir))
    builds.append(("this build", opts.bin))
    print(f"{os.uname().nodename}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{opts.requests} requests from {opts.hosts} hosts, {opts.rounds} rounds, alternating")
    best = {}
    for round in range(opts.rounds):
        for name, bindir in builds:
            rate, cpu, line = run(bindir, opts.requests, opts.hosts)
            print(f"  round {round + 1} {name:16} {line}")
            if name not in best or rate > best[name][0]:
                best[name] = (rate, cpu)
    print("best of each build:")
    for name, _ in builds:
        rate, cpu = best[name]
        print(f"  {name:16} {rate:8.0f} decisions/s  {cpu:.3f} ms CPU per decision")
    if len(builds) == 2:
        (base, _), (this, _) = builds
        print(f"  ratio this build / {base}: {best[this][0] / best[base][0]:.1f}x decisions/s, "
              f"{best[base][1] / best[this][1]:.1f}x less CPU per decision")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
