#!/usr/bin/env python3
"""Issue 10: where a `pause all --hard` / `resume all` spends its time on the hosts.

Brings up the scale_bench fleet (N real sshd hosts, one `bosun-host run` agent each), starts each
build's bosund in turn (its links run that build's `bosun-host serve`), and for every command
attaches `perf trace` (kernel timestamps, no ptrace stops) to all N `serve` processes:

- per host: the message's arrival (its read on stdin), the signal (kill), the pause file's fsync
  and rename, the ack (the first write on stdout after it), the thread files' renames;
- per command: how the arrivals spread over the hosts (bosund and the sshd relays) and how long
  each host took from arrival to ack.

Usage: Benchmarks/pause_timeline.py --hosts 100 [--rounds 3] [--bin DIR] [--baseline DIR]
(as root: perf trace; fleets beyond ~900 hosts raise fs.inotify.max_user_instances, restored after.)
"""
import argparse, os, re, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import pct  # noqa: E402
from scale_bench import Fleet, raise_inotify, restore_inotify, timed  # noqa: E402

LINE = re.compile(r"^\s*([\d.]+) \(\s*([\d.]+) ms\): [^/]+/(\d+) (\w+)\((.*?)\)\s+= (-?\w+)")
# A call interrupted in the output by another pid's: its start line has no duration, this one has.
CONTINUED = re.compile(r"^\s*([\d.]+) \(\s*([\d.]+) ms\): [^/]+/(\d+)\s+\.\.\. \[continued\]: (\w+)\(\)\)\s+= (-?\w+)")


def serve_pids(fleet):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and any(fleet.dir.encode() in a for a in argv) and any(b"bosun-host" in a for a in argv):
            pids.append(int(entry))
    return pids


def trace(fleet, argv, pids, out):
    """Runs `argv` with perf trace attached to `pids`; returns (command ms, parsed events)."""
    perf = subprocess.Popen(["perf", "trace", "-o", out, "-e", "read,write,kill,fsync,fdatasync,rename,renameat2,unlink",
                             "-p", ",".join(map(str, pids))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5 + len(pids) / 200)  # attached to every pid before the command
    ms, _ = timed(argv)
    time.sleep(0.5)  # the thread-file writes after the acks
    perf.send_signal(signal.SIGINT)
    perf.wait()
    if os.environ.get("PAUSE_TIMELINE_KEEP"):
        subprocess.run(["cp", out, os.environ["PAUSE_TIMELINE_KEEP"]])
    events = []
    for line in open(out, errors="replace"):
        m = LINE.match(line)
        if m:
            t, dur, pid, call, args, ret = m.groups()
            events.append((float(t), float(dur), int(pid), call, args, ret))
            continue
        m = CONTINUED.match(line)
        if m:
            t, dur, pid, call, ret = m.groups()
            events.append((float(t), float(dur), int(pid), call, "", ret))
    return ms, events


def per_host(events):
    """{pid: {"in": t, "kill": dur, "fsync": dur, "rename": dur, "ack": t, "thread_renames": [dur]}}"""
    hosts = {}
    for t, dur, pid, call, args, ret in sorted(events):
        h = hosts.setdefault(pid, {"thread_renames": []})
        end = t + dur
        if call == "read" and (args.startswith("buf:") or args.startswith("fd: 0,")) and "in" not in h and ret not in ("0", "-1"):
            h["in"] = end
        elif "in" not in h:
            continue
        elif call == "kill":
            h.setdefault("kill", end)
        elif call in ("fsync", "fdatasync") and "ack" not in h:
            h["fsync"] = h.get("fsync", 0) + dur
        elif call in ("rename", "renameat2"):
            if "ack" not in h:
                h["rename"] = h.get("rename", 0) + dur
            else:
                h["thread_renames"].append(dur)
        elif call == "unlink" and "ack" not in h:
            h["unlink"] = h.get("unlink", 0) + dur
        elif call == "write" and args.startswith("fd: 1") and "ack" not in h:
            h["ack"] = end
    return {p: h for p, h in hosts.items() if "in" in h and "ack" in h}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--baseline", default=None)
    opts = ap.parse_args()
    builds = ([("baseline", opts.baseline)] if opts.baseline else []) + [("this build", opts.bin)]
    n = opts.hosts
    restore = raise_inotify(n)
    fleet = None
    try:
        fleet = Fleet(n, opts.bin)
        fleet.start_agents(opts.bin)

        print(f"{n} hosts, load average {os.getloadavg()[0]:.1f} at start")
        for label, bindir in builds:
            fleet.start(bindir, fleet.agents_known, timeout=900)
            pids = serve_pids(fleet)
            stats = {}
            for _ in range(opts.rounds):
                for key, args in (("pause", ["pause", "all", "--hard", "trace"]), ("resume", ["resume", "all"])):
                    ms, events = trace(fleet, [f"{bindir}/bosun", "--socket", fleet.sock, *args], pids,
                                       f"{fleet.dir}/trace.txt")
                    hosts = per_host(events)
                    s = stats.setdefault(key, {"command": [], "spread": [], "service": [], "fsync": [],
                                               "rename": [], "unlink": [], "thread_rename": [], "acked": [],
                                               "window": []})
                    s["command"].append(ms)
                    s["acked"].append(len(hosts))
                    if hosts:
                        first = min(h["in"] for h in hosts.values())
                        s["spread"] += [h["in"] - first for h in hosts.values()]
                        s["window"].append(max(h["ack"] for h in hosts.values()) - first)
                        s["service"] += [h["ack"] - h["in"] for h in hosts.values()]
                        for k in ("fsync", "rename", "unlink"):
                            s[k] += [h[k] for h in hosts.values() if k in h]
                        s["thread_rename"] += [d for h in hosts.values() for d in h["thread_renames"]]
                    time.sleep(0.3)
            fleet.stop_daemon()
            print(f"\n{label} ({bindir}), {len(pids)} serve traced:")
            for key, s in stats.items():
                print(f"  {key}: command p50 {pct(s['command'], 50):.1f} ms (traced; n={len(s['command'])}), "
                      f"hosts seen acking {min(s['acked'])}-{max(s['acked'])}")
                for k in ("window", "spread", "service", "fsync", "rename", "unlink", "thread_rename"):
                    if s[k]:
                        print(f"    {k:14} p50 {pct(s[k], 50):7.2f} ms  p90 {pct(s[k], 90):7.2f}  "
                              f"max {max(s[k]):7.2f}  (n={len(s[k])})")
    finally:
        if fleet:
            fleet.close()
        restore_inotify(restore)


if __name__ == "__main__":
    main()
