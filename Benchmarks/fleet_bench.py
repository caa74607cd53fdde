#!/usr/bin/env python3
"""Fleet benchmark (issues 2 and 10): bring-up time, supervisor RSS, idle CPU and host->supervisor
update latency.

Usage: Benchmarks/fleet_bench.py [--hosts 50] [--samples 30] [--idle SECONDS] [--bin DIR]
           [--baseline DIR] [--host-helper PATH] [--connects N[,N...]]
           [--keepalive INTERVAL,TIMEOUT] [--repeat N]
The hosts run `bosun-host` as shipped: the static release binary of scripts/build-host-helper
(built if missing; `--host-helper PATH` for another). `--connects N` sets bosund's
`max_concurrent_connects` (default: bosund's own); `--connects 16,32,64` measures this build at
each in turn on the same fleet (the baseline at the first). Bring-up prints a timeline (hosts up, every
few seconds) and the bosund CPU it took.
Starts N real sshd hosts on 127.0.0.1 (scripts/fleet) once, then each build's real bosund in turn
against them (`--baseline` first, then `--bin`; each on a fresh database), and measures with the
real `bosun` CLI: how long until every host is up, bosund's RSS, bosund's CPU (utime + stime from
/proc) over `--idle` seconds with every link up and nothing happening, and the update latency.
Fleets beyond ~900 hosts need fs.inotify.max_user_instances raised (each `bosun-host serve` holds
an inotify instance): the script raises it for its run, says so, and restores the old value.
Stops everything it started (by PID) at the end.
"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile, time

from benchlib import ROOT, pct, stop_agents, stop_process
from scale_bench import raise_inotify, restore_inotify


def run(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serving(fleet):
    """How many `bosun-host serve` of this fleet are running: hosts whose link is open and whose
    hello went out (independent of when bosund lists them up)."""
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and any(fleet.encode() in a for a in args):
            n += 1
    return n


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def measure(bindir, fleet, opts, label):
    """Runs `bindir`'s bosund against the fleet on a fresh database; prints what it measured."""
    bosun = [f"{bindir}/bosun", "--socket", f"{fleet}/state/bosund.sock"]
    for suffix in ["", "-wal", "-shm"]:
        try:
            os.unlink(f"{fleet}/state/bosun.db{suffix}")
        except FileNotFoundError:
            pass
    daemon = None
    agents = []
    try:
        t0 = time.monotonic()
        daemon = subprocess.Popen([f"{bindir}/bosund", "--config", f"{fleet}/config", "--log-level", "warning"],
                                  stdout=subprocess.DEVNULL, stderr=open(f"{fleet}/bosund-{label}.log", "w"))
        first_answer = None
        timeline = []  # (seconds since start, hosts up, bosund CPU seconds, serve processes running)
        while True:
            r = run(*bosun, "hosts", "--json", check=False)
            if r.returncode in (0, 3):
                first_answer = first_answer or time.monotonic() - t0
                hosts = [json.loads(l) for l in r.stdout.splitlines()]
                up_now = sum(1 for h in hosts if h["state"] == "up")
                now = time.monotonic() - t0
                if not timeline or now - timeline[-1][0] >= opts.tick or up_now == opts.hosts:
                    timeline.append((now, up_now, cpu_seconds(daemon.pid), serving(fleet)))
                if len(hosts) == opts.hosts and all(h["state"] == "up" for h in hosts):
                    break
            if time.monotonic() - t0 > opts.timeout:
                up = sum(1 for h in hosts if h["state"] == "up") if r.returncode in (0, 3) else 0
                print(f"[{label}] only {up} of {opts.hosts} hosts up after {opts.timeout} s; giving up")
                return
            time.sleep(0.05 if opts.hosts < 200 else 0.25)
        all_up = time.monotonic() - t0
        cpu_up = cpu_seconds(daemon.pid)
        time.sleep(2)
        rss_up = rss_kib(daemon.pid)
        print(f"[{label}] bring-up: first control answer {first_answer*1000:.0f} ms; all {opts.hosts} hosts up "
              f"{all_up*1000:.0f} ms after bosund start (bosund CPU {cpu_up:.1f} s); RSS {rss_up/1024:.1f} MiB, "
              f"{threads_of(daemon.pid)} threads")
        print(f"[{label}] timeline (s: hosts listed up, bosund CPU s, serve running): " +
              ", ".join(f"{t:.0f}: {n} ({c:.1f}, {s})" for t, n, c, s in timeline))

        if opts.idle > 0:
            # Let the bring-up settle (the first pings and their pongs, host records saved), then
            # watch bosund with every link up and nothing happening.
            time.sleep(opts.settle)
            c0, w0 = cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(opts.idle)
            c1, w1 = cpu_seconds(daemon.pid), time.monotonic()
            r = run(*bosun, "hosts", "--json", check=False)
            up = sum(1 for l in r.stdout.splitlines() if json.loads(l)["state"] == "up")
            print(f"[{label}] idle: bosund CPU {100 * (c1 - c0) / (w1 - w0):.2f} % of a core over {w1 - w0:.0f} s "
                  f"({(c1 - c0) * 1000:.0f} ms CPU) with {opts.hosts} hosts; {up} up at the end; "
                  f"RSS {rss_kib(daemon.pid)/1024:.1f} MiB; load average {os.getloadavg()[0]:.1f}")

        if opts.samples > 0:
            # Update latency: a thread starts on a host; how long until `bosun threads` lists it.
            latencies = []
            for i in range(opts.samples):
                host = i % opts.hosts + 1
                before = len(run(*bosun, "threads", "--json", "--host", f"h{host}").stdout.splitlines())
                t = time.monotonic()
                agents.append(subprocess.Popen([opts.host_helper, "--state", f"{fleet}/hosts/h{host}/spool",
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
            print(f"[{label}] bosund RSS {rss_kib(daemon.pid)/1024:.1f} MiB after {opts.samples} thread updates")
            print(f"[{label}] update latency (bosun-host run -> visible in bosun threads), n={len(latencies)}: "
                  f"p50 {pct(latencies,50):.1f} ms, p90 {pct(latencies,90):.1f} ms, p99 {pct(latencies,99):.1f} ms, "
                  f"max {max(latencies):.1f} ms")
            print(f"  (includes process start of bosun-host run and CLI polling; one 'bosun threads' call: "
                  f"p50 {pct(calls,50):.1f} ms, p99 {pct(calls,99):.1f} ms)")
    finally:
        stop_agents(agents)
        if daemon:
            stop_process(daemon)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--idle", type=float, default=0, help="seconds of idle CPU measurement (0: none)")
    ap.add_argument("--settle", type=float, default=15, help="seconds after bring-up before the idle window")
    ap.add_argument("--timeout", type=float, default=300, help="seconds allowed for every host to come up")
    ap.add_argument("--bin", default=None)
    ap.add_argument("--baseline", default=None, help="another build's bin dir, measured first on the same fleet")
    ap.add_argument("--host-helper", default=None,
                    help="the bosun-host the hosts run (default: scripts/build-host-helper's static release build)")
    ap.add_argument("--connects", default=None,
                    help="bosund's max_concurrent_connects, or several comma-separated (each measured in turn)")
    ap.add_argument("--keepalive", default=None,
                    help="INTERVAL,TIMEOUT (s): bosund's keepalive_interval and keepalive_timeout (default: its own)")
    ap.add_argument("--repeat", type=int, default=1, help="measure the baseline and this build this many times, alternately")
    ap.add_argument("--tick", type=float, default=5, help="seconds between bring-up timeline entries")
    opts = ap.parse_args()
    bindir = opts.bin or run("swift", "build", "--show-bin-path", "-c", "release").stdout.strip()
    if opts.host_helper is None:
        # As shipped: release, static, stripped (scripts/build-host-helper; it rebuilds if stale).
        # Its last line is "PATH SIZE bytes" (the build's own progress comes before it).
        opts.host_helper = run(f"{ROOT}/scripts/build-host-helper").stdout.strip().splitlines()[-1].split()[0]
        if not opts.host_helper.startswith("/"):
            opts.host_helper = os.path.join(ROOT, opts.host_helper)
    opts.host_helper = os.path.abspath(opts.host_helper)
    print(f"host helper: {opts.host_helper} ({os.path.getsize(opts.host_helper)} bytes)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    restore = raise_inotify(opts.hosts)
    fleet = tempfile.mkdtemp(prefix="bosun-bench-", dir="/tmp")
    try:
        t = time.monotonic()
        run(f"{ROOT}/scripts/fleet", "up", fleet, str(opts.hosts), "--bosun-host", opts.host_helper)
        print(f"hosts: {opts.hosts}  (fleet of sshd started in {time.monotonic() - t:.2f} s, not counted)")
        with open(f"{fleet}/config/bosund.toml") as f:
            config = f.read()
        # One value, or several (`--connects 16,32,64`): the baseline at the first, this build at each.
        connects = [int(n) for n in opts.connects.split(",")] if opts.connects else [None]
        if opts.keepalive:
            interval, timeout = opts.keepalive.split(",")
            config += f"\n[links]\nkeepalive_interval = {float(interval)}\nkeepalive_timeout = {float(timeout)}\n"
            print(f"keepalive_interval = {interval} s, keepalive_timeout = {timeout} s")
            if opts.connects:
                sys.exit("--keepalive and --connects cannot be combined (one [links] table)")
        for i, n in enumerate(connects):
            with open(f"{fleet}/config/bosund.toml", "w") as f:
                f.write(config + (f"\n[links]\nmax_concurrent_connects = {n}\n" if n else ""))
            if n:
                print(f"max_concurrent_connects = {n}")
            for _ in range(opts.repeat):
                # Alternated, so that a change in the machine's load falls on both builds alike.
                if opts.baseline and i == 0:
                    measure(opts.baseline, fleet, opts, "baseline")
                measure(bindir, fleet, opts, "this build" if n is None else f"this build, {n} connects")
    finally:
        run(f"{ROOT}/scripts/fleet", "down", fleet, check=False)
        subprocess.run(["rm", "-rf", fleet])
        restore_inotify(restore)
        if restore is not None:
            print(f"(fs.inotify.max_user_instances restored to {restore})")


if __name__ == "__main__":
    main()
