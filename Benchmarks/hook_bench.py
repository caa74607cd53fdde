#!/usr/bin/env python3
"""Hook round trip (issue 3): `bosun-host hook codex` for an auto-allowed command through a real
sshd link and bosund, from hook process start to its answer; next to the floor, a hook that
answers `{}` without Bosun.

Usage: Benchmarks/hook_bench.py [--samples 200] [--bin DIR] [--host-bin PATH]
(after `swift build -c release`; for the helper as shipped to hosts:
 `swift build -c release --static-swift-stdlib --product bosun-host --scratch-path .build-static`)
"""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

from benchlib import ROOT, pct




def timed(argv, payload, env=None):
    t = time.monotonic()
    r = subprocess.run(argv, input=payload, capture_output=True, env=env)
    return (time.monotonic() - t) * 1000, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--host-bin", default=None, help="bosun-host to use (e.g. a --static-swift-stdlib build)")
    opts = ap.parse_args()
    bindir = opts.bin or subprocess.run(["swift", "build", "--show-bin-path", "-c", "release"], check=True,
                                        capture_output=True, text=True).stdout.strip()
    host_bin = opts.host_bin or f"{bindir}/bosun-host"
    fleet = tempfile.mkdtemp(prefix="bosun-hook-", dir="/tmp")
    daemon = None
    try:
        subprocess.run([f"{ROOT}/scripts/fleet", "up", fleet, "1", "--bosun-host", host_bin],
                       check=True, capture_output=True)
        os.makedirs(f"{fleet}/config/policies", exist_ok=True)
        for name in os.listdir(f"{ROOT}/policies"):
            if name.endswith(".toml"):
                shutil.copy(f"{ROOT}/policies/{name}", f"{fleet}/config/policies/{name}")
        daemon = subprocess.Popen([f"{bindir}/bosund", "--config", f"{fleet}/config", "--log-level", "warning"],
                                  stdout=subprocess.DEVNULL, stderr=open(f"{fleet}/bosund.log", "w"))
        spool = f"{fleet}/hosts/h1/spool"
        deadline = time.monotonic() + 30
        while not os.path.exists(f"{spool}/link.json"):
            if time.monotonic() > deadline:
                sys.exit("host link did not come up")
            time.sleep(0.02)
        payload = json.dumps({
            "session_id": "bench-session", "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp",
            "hook_event_name": "PreToolUse", "permission_mode": "default", "turn_id": "t", "model": "m",
            "tool_name": "Bash", "tool_input": {"command": "git status"}, "tool_use_id": "call_1"}).encode()
        hook = [host_bin, "--state", spool, "hook", "codex"]
        floor = ["/bin/sh", "-c", "cat >/dev/null; printf '{}'"]
        for _ in range(5):
            timed(hook, payload)
        bosun, base = [], []
        for _ in range(opts.samples):
            ms, r = timed(hook, payload)
            if r.returncode != 0 or r.stdout.strip():
                sys.exit(f"unexpected answer: {r.returncode} {r.stdout!r} {r.stderr!r}")
            bosun.append(ms)
            ms, _ = timed(floor, payload)
            base.append(ms)
        print(f"hook round trip, auto-allowed `git status` through sshd + bosund, n={opts.samples}: "
              f"p50 {pct(bosun,50):.1f} ms, p90 {pct(bosun,90):.1f} ms, p99 {pct(bosun,99):.1f} ms")
        print(f"floor (sh answering {{}} without Bosun), n={opts.samples}: "
              f"p50 {pct(base,50):.1f} ms, p90 {pct(base,90):.1f} ms, p99 {pct(base,99):.1f} ms")
    finally:
        if daemon:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        subprocess.run([f"{ROOT}/scripts/fleet", "down", fleet], capture_output=True)
        shutil.rmtree(fleet, ignore_errors=True)


if __name__ == "__main__":
    main()
