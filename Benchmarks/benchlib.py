"""Shared by the benchmark scripts: percentiles and the repository root."""
import os
import signal
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pct(values, p):
    """The p-th percentile (linear interpolation) of values."""
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def stop_agents(agents):
    """Continues (if paused) and terminates the agent processes a benchmark started, by PID."""
    for a in agents:
        try:
            os.killpg(a.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        a.send_signal(signal.SIGTERM)
    for a in agents:
        try:
            a.wait(timeout=10)
        except subprocess.TimeoutExpired:
            a.kill()


def print_symbol_shares(data, keep, title, top):
    """Prints the self and inclusive (children) shares of the symbols in `perf record -g` DATA,
    counting only the samples for which keep(comm, pid, time) is true; Swift names demangled.
    Returns the number of samples counted."""
    import collections
    r = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,time,ip,sym,dso"],
                       capture_output=True, text=True, errors="replace")
    self_c, incl, total = collections.Counter(), collections.Counter(), 0
    stack, kept = [], False

    def flush():
        nonlocal total
        if kept and stack:
            total += 1
            self_c[stack[0]] += 1
            for s in set(stack):
                incl[s] += 1

    for line in r.stdout.splitlines():
        if line and not line[0].isspace():
            flush()
            stack = []
            parts = line.split()
            try:
                t, pid = float(parts[-1].rstrip(":")), int(parts[-2])
            except (ValueError, IndexError):
                kept = False
                continue
            kept = keep(" ".join(parts[:-2]), pid, t)
        elif kept and line.strip():
            body = line.strip().split(" ", 1)[1] if " " in line.strip() else line.strip()
            name, _, dso = body.rpartition(" (")
            stack.append(f"{name or '?'} [{os.path.basename(dso.rstrip(')'))}]")
    flush()
    names = sorted(set(self_c) | set(incl))
    dm = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names),
                        capture_output=True, text=True)
    demangled = dict(zip(names, dm.stdout.splitlines())) if dm.returncode == 0 else {}
    print(title(total))
    for heading, counts in (("self", self_c), ("inclusive", incl)):
        print(f"  {heading}:")
        for s, v in counts.most_common(top):
            print(f"    {100 * v / max(total, 1):5.1f} %  {demangled.get(s, s)[:150]}")
    return total


def stop_process(process, timeout=60):
    """SIGTERM, then SIGKILL if `process` (a Popen this script started) is still there after `timeout`."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def processes(cpu=False):
    """{pid: (ppid, comm, argv bytes, cpu seconds)} of every process now. With `cpu`, the process's
    own CPU from /proc/PID/schedstat (ns, all threads; /proc/PID/stat's utime+stime are whole clock
    ticks, 0 for a process that ran 5 ms) plus its waited-for children's (stat's cutime+cstime);
    else 0.0."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            argv = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = 0.0
        if cpu:
            try:
                seconds = sum(int(open(f"/proc/{entry}/task/{t}/schedstat").read().split()[0])
                              for t in os.listdir(f"/proc/{entry}/task")) / 1e9
            except (OSError, ValueError):
                seconds = 0.0
            seconds += (int(fields[13]) + int(fields[14])) / tick
        out[int(entry)] = (int(fields[1]), comm, argv, seconds)
    return out
