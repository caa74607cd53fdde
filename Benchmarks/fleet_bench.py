#!/usr/bin/env python3
"""Fleet benchmark for issue 2: bring-up time, supervisor RSS and host->supervisor update latency.

Usage: Benchmarks/fleet_bench.py [--hosts 50] [--samples 30] [--bin DIR]
Starts N real sshd hosts on 127.0.0.1 (scripts/fleet), a real bosund, and measures with the real
`bosun` CLI. Stops everything it started (by PID) at the end.
"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile, time

from benchlib import ROOT, pct


def run(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)




def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--bin", default=None)
    opts = ap.parse_args()
    bindir = opts.bin or run("swift", "build", "--show-bin-path", "-c", "release").stdout.strip()
    bosun = [f"{bindir}/bosun"]
    fleet = tempfile.mkdtemp(prefix="bosun-bench-", dir="/tmp")
    daemon = None
    agents = []
    try:
        t = time.monotonic()
        run(f"{ROOT}/scripts/fleet", "up", fleet, str(opts.hosts), "--bosun-host", f"{bindir}/bosun-host")
        fleet_up = time.monotonic() - t
        sock = f"{fleet}/state/bosund.sock"
        bosun += ["--socket", sock]

        t0 = time.monotonic()
        daemon = subprocess.Popen([f"{bindir}/bosund", "--config", f"{fleet}/config", "--log-level", "warning"],
                                  stdout=subprocess.DEVNULL, stderr=open(f"{fleet}/bosund.log", "w"))
        first_answer = None
        while True:
            r = run(*bosun, "hosts", "--json", check=False)
            if r.returncode in (0, 3):
                first_answer = first_answer or time.monotonic() - t0
                hosts = [json.loads(l) for l in r.stdout.splitlines()]
                if len(hosts) == opts.hosts and all(h["state"] == "up" for h in hosts):
                    break
            if time.monotonic() - t0 > 120:
                sys.exit("hosts did not come up in 120 s")
            time.sleep(0.01)
        all_up = time.monotonic() - t0
        time.sleep(2)
        rss_up = rss_kib(daemon.pid)

        # Update latency: a thread starts on a host; how long until `bosun threads` lists it.
        latencies = []
        for i in range(opts.samples):
            host = i % opts.hosts + 1
            before = len(run(*bosun, "threads", "--json", "--host", f"h{host}").stdout.splitlines())
            t = time.monotonic()
            agents.append(subprocess.Popen([f"{bindir}/bosun-host", "--state", f"{fleet}/hosts/h{host}/spool",
                                            "run", "--", "sleep", "600"], stdin=subprocess.DEVNULL))
            while len(run(*bosun, "threads", "--json", "--host", f"h{host}").stdout.splitlines()) <= before:
                if time.monotonic() - t > 10:
                    sys.exit("thread never appeared")
            latencies.append((time.monotonic() - t) * 1000)
        # The floor of that loop: one `bosun threads` call.
        calls = []
        for _ in range(30):
            t = time.monotonic()
            run(*bosun, "threads", "--json", "--host", "h1")
            calls.append((time.monotonic() - t) * 1000)
        rss_end = rss_kib(daemon.pid)

        print(f"hosts: {opts.hosts}  (fleet of sshd started in {fleet_up:.2f} s, not counted)")
        print(f"bring-up: first control answer {first_answer*1000:.0f} ms; all {opts.hosts} hosts up {all_up*1000:.0f} ms after bosund start")
        print(f"bosund RSS: {rss_up/1024:.1f} MiB with {opts.hosts} links up; {rss_end/1024:.1f} MiB after {opts.samples} thread updates")
        print(f"update latency (bosun-host run -> visible in bosun threads), n={len(latencies)}: "
              f"p50 {pct(latencies,50):.1f} ms, p90 {pct(latencies,90):.1f} ms, p99 {pct(latencies,99):.1f} ms, max {max(latencies):.1f} ms")
        print(f"  (includes process start of bosun-host run and CLI polling; one 'bosun threads' call: "
              f"p50 {pct(calls,50):.1f} ms, p99 {pct(calls,99):.1f} ms)")
    finally:
        for a in agents:
            a.send_signal(signal.SIGTERM)
        for a in agents:
            try:
                a.wait(timeout=10)
            except subprocess.TimeoutExpired:
                a.kill()
        if daemon:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        run(f"{ROOT}/scripts/fleet", "down", fleet, check=False)
        subprocess.run(["rm", "-rf", fleet])


if __name__ == "__main__":
    main()
