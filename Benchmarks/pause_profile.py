#!/usr/bin/env python3
"""Issue 10: where a `pause all --hard` / `resume all` spends its wall time, system-wide.

Brings up the scale_bench fleet (N real sshd hosts on 127.0.0.1, one `bosun-host run` agent
each; the links run `--bin`'s `bosun-host serve`), starts `--bin`'s bosund, and runs `--rounds`
pause/resume pairs while two `perf record -a` sessions (CLOCK_MONOTONIC timestamps, so they
line up with this script's own marks) watch the whole machine:

- CPU samples (`cpu-clock`, every `--period-us` of CPU on each core, with call graphs): per
  command, the CPU spent by each class of process between the command's start and its exit —
  bosund, the `bosun` CLI, the fleet's sshd, `bosun-host serve`, the agents (`run`), perf
  itself, everything else on the machine (other work), and idle;
- syscall tracepoints (write, sendto, read/recvfrom returns, fsync/fdatasync, kill): per
  command, bosund's critical path — the CLI's request, bosund's first and last message out to
  the links, each host's arrival (serve's first read) and ack (serve's write on stdout),
  bosund's syncs (its transactions' commits) and the reply the CLI reads.

Processes are classified by ancestry from a /proc snapshot taken before recording (a fleet
sshd's children are the fleet's), so the other work on a shared machine (other fleets too)
stays "other". The perf.data files and a JSON summary are kept in `--out`.

Usage: Benchmarks/pause_profile.py --hosts 100 --rounds 10 --bin DIR --out DIR
           [--period-us 500] [--gap 0.5] [--untraced 5]
(as root: perf; fleets beyond ~900 hosts raise fs.inotify.max_user_instances, restored after.)
"""
import argparse, bisect, collections, json, os, re, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import pct, print_symbol_shares, processes  # noqa: E402
from scale_bench import Fleet, raise_inotify, restore_inotify, timed  # noqa: E402


def classify(procs, fleet, daemon_pid, agent_pids):
    """{pid: class} for the processes of this run; anything else is "other"."""
    roots = {}
    for pid, (ppid, comm, argv, _) in procs.items():
        if pid == daemon_pid:
            roots[pid] = "bosund"
        elif pid in agent_pids:
            roots[pid] = "run (agents)"
        elif comm == "sshd" and fleet.dir.encode() in argv:
            roots[pid] = "sshd"
    classes = {}
    for pid in procs:
        p, seen = pid, 0
        while p in procs and p not in roots and seen < 64:
            p, seen = procs[p][0], seen + 1
        if p in roots:
            root = roots[p]
            ppid, comm, argv, _ = procs[pid]
            if root == "sshd" and b"bosun-host" in argv and b"serve" in argv:
                classes[pid] = "serve"
            elif root == "sshd" and comm != "sshd":
                classes[pid] = "serve"  # the shell sshd runs the command with, exec'd into serve
            else:
                classes[pid] = root
    return classes


def perf_start(args, out):
    """Starts `perf record` filtered to exclude its own events (its writes would feed themselves)."""
    return subprocess.Popen(["sh", "-c", 'exec perf record "$@"', "perf", *args, "-o", out],
                            stdout=subprocess.DEVNULL, stderr=open(out + ".log", "w"))


def perf_stop(p):
    p.send_signal(signal.SIGINT)
    p.wait()


def samples(data, period_us):
    """[(t, pid, comm, dso, sym)] of the cpu-clock samples (leaf frame only)."""
    r = subprocess.run(["perf", "script", "-i", data, "-G", "-F", "comm,pid,time,ip,sym,dso"],
                       capture_output=True, text=True, errors="replace")
    out = []
    for line in r.stdout.splitlines():
        # "  comm PID/TID? TIME: ip sym (dso)" — comm may hold spaces; parse from the pid field.
        parts = line.split()
        if len(parts) < 4:
            continue
        for k, tok in enumerate(parts):
            if tok.endswith(":") and k > 0 and parts[k - 1].split("/")[0].isdigit():
                try:
                    t = float(tok[:-1])
                except ValueError:
                    continue
                pid = int(parts[k - 1].split("/")[0])
                comm = " ".join(parts[:k - 1])
                rest = parts[k + 1:]
                dso = rest[-1].strip("()") if rest else "?"
                sym = " ".join(rest[1:-1]) if len(rest) > 2 else "?"
                out.append((t, pid, comm, dso, sym))
                break
    return out


EVENT = re.compile(r"^\s*(.*?)\s+(\d+)/(\d+)\s+([\d.]+):\s+(?:syscalls|probe_\w+):(\w+):\s*(.*)$")


def events(data):
    """[(t, pid, tid, comm, event, fields)] of the syscall tracepoints."""
    r = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,tid,time,event,trace"],
                       capture_output=True, text=True, errors="replace")
    out = []
    for line in r.stdout.splitlines():
        m = EVENT.match(line)
        if m:
            comm, pid, tid, t, name, fields = m.groups()
            out.append((float(t), int(pid), int(tid), comm, name, fields))
    return out


def field(fields, key):
    for part in fields.split(","):
        k, _, v = part.strip().partition(": ")
        if k == key:
            return int(v, 16) if v.startswith("0x") else int(v)
    return None


def ret(fields):
    try:
        return int(fields.split()[-1], 16)
    except (ValueError, IndexError):
        return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=10, help="pause/resume pairs recorded")
    ap.add_argument("--untraced", type=int, default=5, help="pause/resume pairs timed before, without perf")
    ap.add_argument("--gap", type=float, default=0.5, help="seconds between commands")
    ap.add_argument("--period-us", type=int, default=500, help="cpu-clock sample period per core")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-links", action="store_true",
                    help="an experiment: bosund's link threads (link-*) made SCHED_BATCH once the links are up, so a "
                         "wake-up does not preempt the thread that queues the fleet's messages")
    ap.add_argument("--event", action="append", default=[],
                    help="another event for the syscall session, e.g. a uprobe on GRDB's commit hook in "
                         "bosund (`perf probe -x BOSUND -a 'bosund_commit=<the hook's symbol>'`): counted as commits")
    opts = ap.parse_args()
    os.makedirs(opts.out, exist_ok=True)
    n = opts.hosts
    restore = raise_inotify(n)
    fleet = None
    log = open(f"{opts.out}/summary.txt", "w")

    def say(s):
        print(s)
        log.write(s + "\n")
        log.flush()

    try:
        t = time.monotonic()
        fleet = Fleet(n, opts.bin)
        fleet.start_agents(opts.bin)

        fleet.start(opts.bin, fleet.agents_known, timeout=900)
        if opts.batch_links:
            changed = 0
            for tid in os.listdir(f"/proc/{fleet.daemon.pid}/task"):
                try:
                    if open(f"/proc/{fleet.daemon.pid}/task/{tid}/comm").read().startswith("link-"):
                        os.sched_setscheduler(int(tid), os.SCHED_BATCH, os.sched_param(0))
                        changed += 1
                except OSError:
                    pass
            say(f"(experiment: {changed} link threads of bosund set to SCHED_BATCH)")
        say(f"{n} hosts up and known in {time.monotonic() - t:.1f} s; load {open('/proc/loadavg').read().strip()}")
        bosun = [f"{opts.bin}/bosun", "--socket", fleet.sock]
        cmds = (("pause", ["pause", "all", "--hard", "prof"]), ("resume", ["resume", "all"]))

        def settle():
            time.sleep(opts.gap)

        untraced = {"pause": [], "resume": []}
        for _ in range(opts.untraced):
            for key, args in cmds:
                ms, r = timed(bosun + args)
                untraced[key].append(ms)
                settle()
        for key in untraced:
            if untraced[key]:
                say(f"untraced {key}: p50 {pct(untraced[key], 50):.1f} ms (n={len(untraced[key])}) "
                    f"{[round(x, 1) for x in untraced[key]]}")

        procs = processes()
        agent_pids = {a.pid for a in fleet.agents}
        classes = classify(procs, fleet, fleet.daemon.pid, agent_pids)
        counts = collections.Counter(classes.values())
        say(f"classified: {dict(counts)}; load {open('/proc/loadavg').read().strip()}")
        cpu_data, sys_data = f"{opts.out}/cpu.data", f"{opts.out}/sys.data"
        filt = 'common_pid != $$'
        sys_events = ["syscalls:sys_enter_write", "syscalls:sys_enter_sendto", "syscalls:sys_exit_read",
                      "syscalls:sys_exit_recvfrom", "syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync",
                      "syscalls:sys_enter_kill", "syscalls:sys_enter_connect", "syscalls:sys_enter_pwrite64",
                      "syscalls:sys_enter_exit_group"]
        # The filter names perf's own pid ($$ of the shell it is exec'd from).
        sysargs = " ".join(f"-e {e} --filter \"{filt}\"" for e in sys_events)
        sysargs += "".join(f" -e {e}" for e in opts.event)
        perf_sys = subprocess.Popen(["sh", "-c", f"exec perf record -a -m 16M -k CLOCK_MONOTONIC {sysargs} "
                                     f"-o {sys_data}"],
                                    stdout=subprocess.DEVNULL, stderr=open(sys_data + ".log", "w"))
        perf_cpu = perf_start(["-a", "-g", "-k", "CLOCK_MONOTONIC", "-e", "cpu-clock", "-c",
                               str(opts.period_us * 1000)], cpu_data)
        time.sleep(2)
        marks = []  # (key, start, end, exit code)
        load0 = open("/proc/loadavg").read().strip()
        for _ in range(opts.rounds):
            for key, args in cmds:
                t0 = time.monotonic()
                r = subprocess.run(bosun + args, capture_output=True, text=True)
                t1 = time.monotonic()
                marks.append((key, t0, t1, r.returncode))
                settle()
        load1 = open("/proc/loadavg").read().strip()
        perf_stop(perf_cpu)
        perf_stop(perf_sys)
        json.dump({"marks": marks, "classes": {str(k): v for k, v in classes.items()},
                   "daemon": fleet.daemon.pid, "period_us": opts.period_us, "hosts": n,
                   "untraced": untraced, "load": [load0, load1]},
                  open(f"{opts.out}/marks.json", "w"))
        say(f"recorded {len(marks)} commands; load before {load0}, after {load1}; "
            f"{sum(1 for m in marks if m[3] != 0)} not all acknowledged")
    finally:
        if fleet:
            fleet.close()
        restore_inotify(restore)
    analyse(opts.out, say)


def analyse(out, say):
    meta = json.load(open(f"{out}/marks.json"))
    marks, classes, daemon, period = meta["marks"], {int(k): v for k, v in meta["classes"].items()}, \
        meta["daemon"], meta["period_us"] / 1000
    smp = samples(f"{out}/cpu.data", period)
    evs = events(f"{out}/sys.data")
    serve_pids = {p for p, c in classes.items() if c == "serve"}

    def klass(pid, comm, cli_pid):
        if pid == 0:
            return "idle"
        if pid in classes:
            return classes[pid]
        if pid == cli_pid:
            return "bosun CLI"
        if comm.startswith("perf"):
            return "perf"
        return "other"

    order = ["bosund", "bosun CLI", "sshd", "serve", "run (agents)", "perf", "other", "idle"]
    per = {"pause": collections.defaultdict(list), "resume": collections.defaultdict(list)}
    dso_bosund = collections.Counter()
    sym_bosund = collections.Counter()
    dso_fleet = {c: collections.Counter() for c in ("sshd", "serve")}
    other_comms = {"pause": collections.Counter(), "resume": collections.Counter()}
    smp.sort()
    st = [s[0] for s in smp]
    evs.sort()
    et = [e[0] for e in evs]
    for key, t0, t1, rc in marks:
        if rc != 0:
            say(f"({key} at {t0:.3f} exited {rc} after {(t1 - t0) * 1000:.0f} ms: not all hosts acknowledged; "
                f"left out of the figures below)")
            continue
        lo, hi = bisect.bisect_left(et, t0), bisect.bisect_right(et, t1 + 0.05)
        window = evs[lo:hi]
        cli = [e for e in window if e[3] == "bosun" and e[4] == "sys_enter_connect"]
        cli_pid = cli[0][1] if cli else None
        lo, hi = bisect.bisect_left(st, t0), bisect.bisect_right(st, t1)
        c = collections.Counter()
        for t, pid, comm, dso, sym in smp[lo:hi]:
            k = klass(pid, comm, cli_pid)
            c[k] += 1
            if k == "bosund":
                dso_bosund[dso] += 1
                sym_bosund[sym] += 1
            elif k in dso_fleet:
                dso_fleet[k][dso] += 1
            elif k == "other":
                other_comms[key][comm] += 1
        wall = (t1 - t0) * 1000
        d = per[key]
        d["wall"].append(wall)
        for k in order:
            d[k].append(c[k] * period)
        # The critical path from the syscalls.
        req = next((e[0] for e in window if e[1] == cli_pid and e[4] in ("sys_enter_write", "sys_enter_sendto")
                    and e[0] > (cli[0][0] if cli else 0)), None)
        reply = [e[0] for e in window if e[1] == cli_pid and e[4] in ("sys_exit_read", "sys_exit_recvfrom")
                 and ret(e[5]) > 0 and req and e[0] > req]
        reply_t = reply[-1] if reply else None
        exit_t = next((e[0] for e in window if e[1] == cli_pid and e[4] == "sys_enter_exit_group"), None)
        first_out = {}
        for e in window:
            if e[1] == daemon and e[3].startswith("link-") and e[4] == "sys_enter_sendto" and req and reply_t \
                    and req < e[0] < reply_t and e[2] not in first_out:
                first_out[e[2]] = e[0]
        out_msgs = sorted(first_out.values())
        wakes = collections.defaultdict(dict)  # the 1-byte writes that wake link threads, per writing thread
        for e in window:
            if e[1] == daemon and not e[3].startswith("link-") and e[4] == "sys_enter_write" \
                    and field(e[5], "count") == 1 and req and reply_t and req < e[0] < reply_t:
                wakes[e[2]].setdefault(field(e[5], "fd"), e[0])
        loop = max(wakes.values(), key=len) if wakes else {}
        syncs = [e[0] for e in window if e[1] == daemon and e[4] in ("sys_enter_fsync", "sys_enter_fdatasync")
                 and req and reply_t and req < e[0] < reply_t]
        commits = [e[0] for e in window if e[1] == daemon and e[4].endswith("commit") and req and reply_t
                   and req < e[0] < reply_t]
        pwrites = [e[0] for e in window if e[1] == daemon and e[4] == "sys_enter_pwrite64"
                   and req and reply_t and req < e[0] < reply_t]
        arrivals, acks = {}, {}
        for e in window:
            if e[1] in serve_pids:
                if e[4] == "sys_exit_read" and e[1] not in arrivals and ret(e[5]) > 0 and (not req or e[0] > req):
                    arrivals[e[1]] = e[0]
                elif e[4] == "sys_enter_write" and field(e[5], "fd") == 1 and e[1] in arrivals and e[1] not in acks:
                    acks[e[1]] = e[0]
        if req and reply_t and out_msgs and arrivals and acks:
            ms = lambda a: (a - t0) * 1000  # noqa: E731
            d["t_request"].append(ms(req))
            d["t_first_out"].append(ms(out_msgs[0]))
            d["t_last_out"].append(ms(out_msgs[-1]))
            if loop:
                d["t_first_wake"].append(ms(min(loop.values())))
                d["t_last_wake"].append(ms(max(loop.values())))
            d["t_first_store"].append(ms(pwrites[0]) if pwrites else 0)
            d["t_first_arrival"].append(ms(min(arrivals.values())))
            d["t_last_arrival"].append(ms(max(arrivals.values())))
            d["t_first_ack"].append(ms(min(acks.values())))
            d["t_last_ack"].append(ms(max(acks.values())))
            d["t_last_store"].append(ms(pwrites[-1]) if pwrites else 0)
            d["t_reply"].append(ms(reply_t))
            d["t_exit"].append(ms(exit_t) if exit_t else wall)
            d["syncs"].append(len(syncs))
            d["pwrites"].append(len(pwrites))
            d["commits"].append(len(commits))
            if commits:
                d["t_first_commit"].append(ms(commits[0]))
                d["t_last_commit"].append(ms(commits[-1]))
            d["hosts_seen"].append(len(acks))
            d["bosund writes"].append(len(out_msgs))
            d["service"].extend((acks[p] - arrivals[p]) * 1000 for p in acks)
    for key in ("pause", "resume"):
        d = per[key]
        if not d["wall"]:
            continue
        say(f"\n{key}: n={len(d['wall'])}, wall p50 {pct(d['wall'], 50):.1f} ms (traced)")
        say("  CPU ms per command inside its window, p50 (mean): " + ", ".join(
            f"{k} {pct(d[k], 50):.1f} ({sum(d[k]) / len(d[k]):.1f})" for k in order))
        tot = {k: sum(d[k]) for k in order}
        busy = sum(v for k, v in tot.items() if k != "idle")
        cap = sum(tot.values())
        say("  share of both cores over all windows: " + ", ".join(
            f"{k} {100 * tot[k] / cap:.1f} %" for k in order) + f"  (busy {100 * busy / cap:.1f} %)")
        for k in ("t_request", "t_first_store", "t_first_wake", "t_last_wake", "t_first_out", "t_last_out",
                  "t_first_arrival", "t_last_arrival", "t_first_ack", "t_last_ack", "t_first_commit",
                  "t_last_commit", "t_last_store", "t_reply", "t_exit"):
            if d[k]:
                say(f"  {k:16} p50 {pct(d[k], 50):7.1f} ms  min {min(d[k]):7.1f}  max {max(d[k]):7.1f}")
        for k in ("syncs", "pwrites", "commits", "hosts_seen", "bosund writes"):
            if d[k]:
                say(f"  {k:16} p50 {pct(d[k], 50):.0f}  min {min(d[k])}  max {max(d[k])}")
        oc = other_comms[key]
        say("  other, by comm (ms over all windows): "
            + ", ".join(f"{c} {v * period:.0f}" for c, v in oc.most_common(8)))
        if d["service"]:
            say(f"  host service (arrival -> ack) p50 {pct(d['service'], 50):.1f} ms  p90 {pct(d['service'], 90):.1f}")
    total = sum(dso_bosund.values())
    if total:
        say("\nbosund inside the windows, by DSO (leaf): " + ", ".join(
            f"{k} {100 * v / total:.0f} %" for k, v in dso_bosund.most_common(8)))
        say("bosund top leaf symbols: " + "; ".join(f"{k[:60]} {100 * v / total:.1f} %"
                                                    for k, v in sym_bosund.most_common(12)))
    for c, cnt in dso_fleet.items():
        total = sum(cnt.values())
        if total:
            say(f"{c} inside the windows, by DSO (leaf): " + ", ".join(
                f"{k} {100 * v / total:.0f} %" for k, v in cnt.most_common(6)))

def symbols(out, klass, top=25, keys=("pause", "resume")):
    """Self and inclusive (children) shares of the symbols of one process class inside the
    commands' windows, from the call graphs; Swift names demangled."""
    meta = json.load(open(f"{out}/marks.json"))
    classes = {int(k): v for k, v in meta["classes"].items()}
    pids = {p for p, c in classes.items() if c == klass}
    windows = sorted((m[1], m[2]) for m in meta["marks"] if m[0] in keys)
    starts = [w[0] for w in windows]

    def keep(comm, pid, t):
        i = bisect.bisect_right(starts, t) - 1
        return pid in pids and i >= 0 and t <= windows[i][1]

    print_symbol_shares(
        f"{out}/cpu.data", keep,
        lambda total: f"{klass}: {total} samples ({total * meta['period_us'] / 1000:.0f} ms CPU) in {len(windows)} windows",
        top)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--analyse":
        analyse(sys.argv[2], print)
    elif len(sys.argv) >= 4 and sys.argv[1] == "--symbols":  # --symbols OUT CLASS [pause|resume]
        symbols(sys.argv[2], sys.argv[3], keys=tuple(sys.argv[4:]) or ("pause", "resume"))
    else:
        main()
