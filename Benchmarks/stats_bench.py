#!/usr/bin/env python3
"""`bosun stats` over a large stored history (issue 12): seeds bosund's SQLite file directly with
N requests (votes, outcomes, threads as bosund stores them), restarts bosund on it and times
`bosun stats --json`, `bosun stats` (the table) and, for reference, `policy suggest`,
`policy replay policies` and `export evalset`.

    Benchmarks/stats_bench.py [--requests 100000] [--samples 5] [--bin .build/debug] [--stats-only]

Each line: the client's wall time (process start to exit) and bosund's CPU time for the call
(from /proc: on a loaded machine the wall time stretches, the CPU time much less).

Only 127.0.0.1: one real sshd host from scripts/fleet (bosund needs a configured host); the
history is written to the database while bosund is stopped.
"""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, pct


def run(argv):
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True)
    return (time.monotonic() - t) * 1000, r


class Daemon:
    def __init__(self, directory, bindir):
        self.dir, self.bindir, self.proc = directory, bindir, None
        self.sock = f"{directory}/state/bosund.sock"

    def bosun(self, *args):
        return run([f"{self.bindir}/bosun", "--socket", self.sock, *args])

    def cpu_ms(self):
        """bosund's CPU time so far (user + system), in ms: unlike wall time, not stretched by other load."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def start(self):
        self.proc = subprocess.Popen([f"{self.bindir}/bosund", "--config", f"{self.dir}/config", "--log-level", "error"],
                                     stdout=subprocess.DEVNULL, stderr=open(f"{self.dir}/bosund.log", "a"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.bosun("version")[1].returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("bosund did not answer within 120 s")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


COMMANDS = ["frob-lint --fast", "npm install left-pad", "cargo build", "pytest -q tests", "make docs",
            "git commit -am wip", "frob-fmt src/main.rs", "curl -s https://example.com", "docker ps", "ls -la"]
CHANNELS = ["desk", "mobile", "cli"]
OPERATORS = ["alice", "bob", "carol"]


def seed(db, n, rng):
    now = time.time()
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous = OFF")
    threads = [f"t{i:04d}" for i in range(max(1, n // 200))]
    for t in threads:
        start = now - 14 * 86400 + rng.random() * 13 * 86400
        con.execute(
            "INSERT INTO threads (host, id, agent, argv, cwd, repo, branch, pid, state, started_at, last_activity, "
            "stale, updated_at) VALUES ('h1', ?, 'claude', '[\"claude\"]', '/srv/app', '/srv/app', 'main', NULL, "
            "'running', ?, ?, 0, ?)", (t, start, start + 3600 + rng.random() * 86400, now))
    requests, reviews, outcomes = [], [], []
    for number in range(1, n + 1):
        thread = rng.choice(threads)
        command = rng.choice(COMMANDS) + ("" if rng.random() < 0.7 else f" --n {rng.randrange(50)}")
        created = now - 13 * 86400 + (number / n) * 13 * 86400
        evidence = json.dumps({
            "tool": "Bash", "command": command, "paths": [], "reason": "benchmark", "hook_event": "PreToolUse",
            "agent": "claude", "session_id": thread, "cwd": "/srv/app", "repo": "/srv/app", "branch": "main",
            "head": "0123456789abcdef0123456789abcdef01234567",
            "changed_files": [f"src/f{rng.randrange(40)}.rs" for _ in range(rng.randrange(4))],
            "tests_run": [], "side_effects": [], "network": [], "credentials": []})
        roll = rng.random()
        vote = None
        if roll < 0.60:
            status, verdict, by, channel, decided, tier = "allowed", "allow", "policy:tests-and-builds", "policy", created, "continue"
        elif roll < 0.65:
            status, verdict, by, channel, decided, tier = "denied", "deny", "policy:git-push", "policy", created, "commit"
        else:
            verdict, tier = "ask", "expand"
            answer = created + rng.expovariate(1 / 90)
            op, ch = rng.choice(OPERATORS), rng.choice(CHANNELS)
            sub = rng.random()
            if sub < 0.8:
                status, by, channel, decided, vote = "allowed", f"operator:{op}", ch, answer, "approve"
            elif sub < 0.9:
                status, by, channel, decided, vote = "denied", f"operator:{op}", ch, answer, "deny"
            else:
                status, by, channel, decided = "expired", "timeout", "timer", created + 3600
            if vote:
                reviews.append((number, op, ch, vote, None, answer))
        decision = json.dumps({"request_id": f"r{number}", "verdict": {"allowed": "allow", "denied": "deny"}.get(status, "expired"),
                               "tier": tier, "reason": "benchmark", "decided_by": by,
                               "decided_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(decided))})
        requests.append((number, f"r{number}", thread, created, created + 600, created + 3600, created, tier, verdict,
                         "benchmark", evidence, status, decision, by, decided, channel))
        if status == "allowed" and rng.random() < 0.7:
            outcomes.append((thread, f"r{number}", command, 1 if rng.random() < 0.1 else 0, decided + 5))
    con.executemany(
        "INSERT INTO requests (number, host, id, thread_id, created_at, deadline_at, expires_at, received_at, tier, "
        "policy_verdict, policy_reason, evidence, status, decision, decided_by, decided_at, channel) "
        "VALUES (?, 'h1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", requests)
    con.executemany("INSERT INTO reviews (request_number, operator, channel, vote, note, at) VALUES (?, ?, ?, ?, ?, ?)",
                    reviews)
    con.executemany("INSERT INTO outcomes (host, thread_id, request_id, tool, command, exit_code, finished_at) "
                    "VALUES ('h1', ?, ?, 'Bash', ?, ?, ?)", outcomes)
    con.commit()
    con.close()
    return len(reviews), len(outcomes), len(threads)


def measure(daemon, args, label, argv):
    """Times `argv` `args.samples` times; returns the last output."""
    times, cpu = [], []
    for _ in range(args.samples):
        before = daemon.cpu_ms()
        ms, r = daemon.bosun(*argv)
        cpu.append(daemon.cpu_ms() - before)
        if r.returncode != 0:
            sys.exit(f"{label}: {r.stderr}")
        times.append(ms)
    print(f"  {label:30} p50 {pct(times, 50):8.1f} ms  max {max(times):8.1f} ms  bosund CPU p50 "
          f"{pct(cpu, 50):7.0f} ms  (n={len(times)}, {len(r.stdout)} bytes, load {os.getloadavg()[0]:.1f})",
          flush=True)
    return r.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--bin", nargs="+", default=[f"{ROOT}/.build/debug"],
                        help="one or more build directories, each run in turn on the same seeded history "
                             "(side by side; their `stats --json` must agree)")
    parser.add_argument("--stats-only", action="store_true", help="time only the stats commands")
    parser.add_argument("--hold", type=float, default=0, help="seconds to keep bosund up after seeding (profiling)")
    args = parser.parse_args()
    # Stopped early (timeout, ^C): still stop what this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    bindirs = [os.path.abspath(b) for b in args.bin]
    directory = tempfile.mkdtemp(prefix="bosun-stats-", dir="/tmp")
    daemon = None
    try:
        subprocess.run([f"{ROOT}/scripts/fleet", "up", directory, "1", "--bosun-host", f"{bindirs[0]}/bosun-host"],
                       check=True, capture_output=True)
        shutil.copytree(f"{ROOT}/policies", f"{directory}/config/policies")
        daemon = Daemon(directory, bindirs[0])
        daemon.start()  # creates the database and runs the migrations
        daemon.stop()
        daemon = None
        t = time.monotonic()
        votes, outs, threads = seed(f"{directory}/state/bosun.db", args.requests, random.Random(12))
        print(f"seeded {args.requests} requests, {votes} votes, {outs} outcomes, {threads} threads "
              f"in {time.monotonic() - t:.1f} s", flush=True)
        reports = []
        for bindir in bindirs:
            print(bindir, flush=True)
            daemon = Daemon(directory, bindir)
            daemon.start()
            if args.hold:
                print(f"bosund pid {daemon.proc.pid}, socket {daemon.sock}", flush=True)
                time.sleep(args.hold)
            for label, argv in [("stats --json", ["stats", "--json"]), ("stats (table)", ["stats"]),
                                ("stats --json --operator bob", ["stats", "--json", "--operator", "bob"]),
                                ("stats --json --since 1d", ["stats", "--json", "--since", "1d"]),
                                ("policy suggest", ["policy", "suggest"]),
                                ("policy replay policies", ["policy", "replay", f"{ROOT}/policies", "--since", "14d"]),
                                ("export evalset", ["export", "evalset"])][:4 if args.stats_only else 7]:
                out = measure(daemon, args, label, argv)
                if label == "stats --json":
                    report = json.loads(out)
                    report.pop("until", None)
                    report.pop("since", None)  # both relative to the moment of the call
                    reports.append(report)
                    print(f"    requests {report['requests']}, asked {report['queued']}, "
                          f"p50 response {report['response']['overall']['p50']:.1f} s, "
                          f"rework {report['rework']['reworked']} of {report['rework']['with_files']}", flush=True)
            daemon.stop()
            daemon = None
        for other in reports[1:]:
            if other != reports[0]:
                for key in reports[0]:
                    if reports[0][key] != other.get(key):
                        print(f"{key}: {json.dumps(reports[0][key])[:2000]}\n  vs {json.dumps(other.get(key))[:2000]}")
                sys.exit("the builds' `stats --json` differ")
        if len(reports) > 1:
            print("every build's `stats --json` is the same (but for `since` and `until`)")
    finally:
        if daemon:
            daemon.stop()
        subprocess.run([f"{ROOT}/scripts/fleet", "down", directory], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
