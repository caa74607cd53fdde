#!/usr/bin/env python3
"""Issue 10: where the CPU goes while bosund brings up a large fleet, system-wide.

Starts N real sshd hosts on 127.0.0.1 (scripts/fleet, not timed), then a system-wide
`perf record -a` (cpu-clock, CLOCK_MONOTONIC, call graphs) and `--bin`'s bosund on a fresh
database, polls `bosun hosts --json` (as fleet_bench.py does) until every host is up, and stops
perf. The samples from bosund's start to "all up" are split by process class — bosund, the
polling CLI, the fleet's sshd (listeners and per-connection children), `bosun-host serve`, perf,
idle (pid 0), other (the rest of the machine) — classified by ancestry from /proc snapshots
taken while the links are up; a timeline (every `--tick` s) gives hosts up and each class's share.
As a cross-check without perf, utime+stime from /proc of bosund, of every fleet sshd child and
serve (all started during the bring-up) and of the listeners (before/after) are summed.

Usage: Benchmarks/bringup_profile.py --hosts 2000 --bin DIR --out DIR [--host-helper PATH]
           [--period-us 2000] [--tick 3] [--timeout 240] [--poll 0.25]
(as root: perf; raises fs.inotify.max_user_instances for its run and restores it.)
"""
import argparse, bisect, collections, json, os, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, print_symbol_shares, processes, stop_process  # noqa: E402
from scale_bench import raise_inotify, restore_inotify  # noqa: E402



def classify(procs, fleet, daemon):
    classes = {}
    for pid, (ppid, comm, argv, _) in procs.items():
        if pid == daemon:
            classes[pid] = "bosund"
            continue
        p, seen, listener = pid, 0, None
        while p in procs and seen < 64:
            pp, c, a, _ = procs[p]
            if c == "sshd" and fleet.encode() in a:
                listener = p
                break
            p, seen = pp, seen + 1
        if listener is None:
            continue
        if pid == listener:
            classes[pid] = "sshd listener"
        elif comm == "sshd":
            classes[pid] = "sshd"
        else:
            classes[pid] = "serve"
    return classes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=2000)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--host-helper", default=None, help="default: BIN/bosun-host")
    ap.add_argument("--out", required=True)
    ap.add_argument("--period-us", type=int, default=2000)
    ap.add_argument("--tick", type=float, default=3)
    ap.add_argument("--timeout", type=float, default=240)
    ap.add_argument("--poll", type=float, default=0.25,
                    help="seconds between `bosun hosts --json` calls (fleet_bench's 0.25 s; bosund answers each)")
    opts = ap.parse_args()
    os.makedirs(opts.out, exist_ok=True)
    helper = os.path.abspath(opts.host_helper or f"{opts.bin}/bosun-host")
    log = open(f"{opts.out}/summary.txt", "w")

    def say(s):
        print(s)
        log.write(s + "\n")
        log.flush()

    restore = raise_inotify(opts.hosts)
    fleet = tempfile.mkdtemp(prefix="bosun-bp-", dir="/tmp")
    daemon = perf = None
    try:
        t = time.monotonic()
        subprocess.run([f"{ROOT}/scripts/fleet", "up", fleet, str(opts.hosts), "--bosun-host", helper],
                       check=True, capture_output=True)
        say(f"{opts.hosts} sshd up in {time.monotonic() - t:.1f} s (not counted); "
            f"load {open('/proc/loadavg').read().strip()}")
        time.sleep(5)  # let the fleet's start settle
        before = processes(cpu=True)
        bosun = [f"{opts.bin}/bosun", "--socket", f"{fleet}/state/bosund.sock"]
        data = f"{opts.out}/cpu.data"
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-k", "CLOCK_MONOTONIC", "-e", "cpu-clock", "-c",
                                 str(opts.period_us * 1000), "-o", data],
                                stdout=subprocess.DEVNULL, stderr=open(data + ".log", "w"))
        time.sleep(2)
        load0 = open("/proc/loadavg").read().strip()
        t0 = time.monotonic()
        daemon = subprocess.Popen([f"{opts.bin}/bosund", "--config", f"{fleet}/config", "--log-level", "warning"],
                                  stdout=subprocess.DEVNULL, stderr=open(f"{opts.out}/bosund.log", "w"))
        timeline = []  # (t, hosts up)
        while True:
            r = subprocess.run(bosun + ["hosts", "--json"], capture_output=True, text=True)
            now = time.monotonic()
            if r.returncode in (0, 3):
                hosts = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
                up = sum(1 for h in hosts if h["state"] == "up")
                if not timeline or now - timeline[-1][0] >= opts.tick or up == opts.hosts:
                    timeline.append((now, up))
                if len(hosts) == opts.hosts and up == opts.hosts:
                    break
            if now - t0 > opts.timeout:
                say(f"not all up after {opts.timeout} s")
                break
            time.sleep(opts.poll)
        t1 = time.monotonic()
        load1 = open("/proc/loadavg").read().strip()
        after = processes(cpu=True)
        perf.send_signal(signal.SIGINT)
        perf.wait()
        perf = None
        say(f"all {opts.hosts} up {t1 - t0:.1f} s after bosund start; load before {load0}, at all up {load1}")
        classes = classify(after, fleet, daemon.pid)
        counts = collections.Counter(classes.values())
        say(f"classified at all up: {dict(counts)}")
        # /proc cross-check: CPU of each class since bosund started (new processes: all of it).
        cpu = collections.Counter()
        for pid, k in classes.items():
            c = after[pid][3]
            if pid in before and before[pid][1] == after[pid][1]:
                c -= before[pid][3]
            cpu[k] += c
        say("/proc CPU (s) from bosund start to all up: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.most_common()))
        json.dump({"t0": t0, "t1": t1, "timeline": timeline, "classes": {str(k): v for k, v in classes.items()},
                   "period_us": opts.period_us, "proc_cpu": cpu, "load": [load0, load1]},
                  open(f"{opts.out}/meta.json", "w"))
    finally:
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        if daemon:
            stop_process(daemon)
        subprocess.run([f"{ROOT}/scripts/fleet", "down", fleet], capture_output=True)
        subprocess.run(["rm", "-rf", fleet])
        restore_inotify(restore)
    analyse(opts.out, say)


def analyse(out, say):
    meta = json.load(open(f"{out}/meta.json"))
    classes = {int(k): v for k, v in meta["classes"].items()}
    t0, t1, period = meta["t0"], meta["t1"], meta["period_us"] / 1e6
    r = subprocess.run(["perf", "script", "-i", f"{out}/cpu.data", "-G", "-F", "comm,pid,time,ip,dso"],
                       capture_output=True, text=True, errors="replace")
    ticks = [t for t, _ in meta["timeline"]]
    total = collections.Counter()
    per_tick = collections.defaultdict(collections.Counter)
    dso = collections.defaultdict(collections.Counter)
    others = collections.Counter()
    for line in r.stdout.splitlines():
        parts = line.split()
        k = next((i for i, p in enumerate(parts) if p.endswith(":") and i > 0 and parts[i - 1].isdigit()), None)
        if k is None:
            continue
        try:
            t = float(parts[k][:-1])
        except ValueError:
            continue
        if not t0 <= t <= t1:
            continue
        pid, comm = int(parts[k - 1]), " ".join(parts[:k - 1])
        d = parts[-1].strip("()") if len(parts) > k + 1 else "?"
        if pid == 0:
            c = "idle"
        elif pid in classes:
            c = classes[pid]
        elif comm == "bosun":
            c = "bosun CLI (polling)"
        elif comm.startswith("perf"):
            c = "perf"
        elif comm == "sshd":
            c = "sshd (gone or not ours)"
        else:
            c = "other"
            others[comm] += 1
        total[c] += 1
        dso[c][os.path.basename(d)] += 1
        per_tick[bisect.bisect_left(ticks, t)][c] += 1
    n = sum(total.values())
    wall = t1 - t0
    say(f"\nsamples from bosund start to all up: {n} ({n * period:.1f} CPU-s of {2 * wall:.1f} on 2 cores "
        f"over {wall:.1f} s)")
    for c, v in total.most_common():
        say(f"  {c:26} {v * period:6.1f} s  {100 * v / n:5.1f} %")
    say("  other, by comm: " + ", ".join(f"{c} {v * period:.1f} s" for c, v in others.most_common(10)))
    for c in ("bosund", "sshd", "serve", "sshd listener"):
        tot = sum(dso[c].values())
        if tot:
            say(f"  {c} by DSO: " + ", ".join(f"{k} {100 * v / tot:.0f} %" for k, v in dso[c].most_common(7)))
    say("timeline (s since start: hosts up; share of both cores in the interval before it):")
    for i, (t, up) in enumerate(meta["timeline"]):
        c = per_tick[i]
        tot = sum(c.values()) or 1
        say(f"  {t - t0:5.1f}: {up:5}  " + ", ".join(f"{k} {100 * v / tot:.0f}%" for k, v in
                                                       sorted(c.items(), key=lambda kv: -kv[1])[:6]))


def symbols(out, klass, top=30):
    """Self and inclusive shares of one class's symbols from bosund start to all up. CLASS "sshd
    (gone or not ours)" is the sshd processes that exited before the snapshot (pre-auth children)."""
    meta = json.load(open(f"{out}/meta.json"))
    classes = {int(k): v for k, v in meta["classes"].items()}
    t0, t1 = meta["t0"], meta["t1"]

    def keep(comm, pid, t):
        c = classes.get(pid) or ("sshd (gone or not ours)" if comm == "sshd" else None)
        return c == klass and t0 <= t <= t1

    print_symbol_shares(f"{out}/cpu.data", keep, lambda total: f"{klass}: {total} samples", top)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--analyse":
        analyse(sys.argv[2], print)
    elif len(sys.argv) == 4 and sys.argv[1] == "--symbols":  # --symbols OUT CLASS
        symbols(sys.argv[2], sys.argv[3])
    else:
        main()
