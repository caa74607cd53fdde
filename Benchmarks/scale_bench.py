#!/usr/bin/env python3
"""Issue 10 benchmarks: fleet actions and listings at scale, one command.

Each measurement runs every build given (`--baseline DIR` and `--bin DIR`, e.g. main's release
build and this branch's) side by side against the same fleet in one run, each with a fresh
database, alternating builds between passes, each build's links running that build's
`bosun-host serve` (the agents' `bosun-host run` are the measured build's); peers and floors are
measured in the same run:

- `bosun pause all --hard` and `bosun resume all` at N hosts (every host acknowledged), next to
  parallel-ssh sending `kill -STOP`/`kill -CONT` to the same agents, with a fresh connection per
  host and over already-open ControlMaster connections;
- with T threads and P pending requests known (10 hosts): `threads --json`, `threads --host h1`,
  single-thread lookups (`show <id prefix>`, `show h1/<id>`), `queue`, next to the `whoami`
  floor (process start and a socket round trip) and `sqlite3 -json` dumping the threads table.

Usage: Benchmarks/scale_bench.py [--hosts 10,100] [--threads 10000] [--pending 1000]
           [--rounds 5] [--passes 2] [--samples 30] [--bin DIR] [--baseline DIR] [--no-pssh]
       Benchmarks/scale_bench.py --smoke      (a few seconds: checks that it still works)

(after `swift build -c release`; the ssh comparison needs Debian's pssh package; fleets beyond
~900 hosts need fs.inotify.max_user_instances raised: the script raises it for its run when it
can, and says so.)
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time, uuid

from benchlib import ROOT, pct, stop_agents, stop_process

USER = os.environ.get("USER", "root")


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


class Fleet:
    """N real sshd hosts from scripts/fleet; bosund builds are started and stopped against it."""

    def __init__(self, n, host_bin):
        self.n = n
        # BOSUN_BENCH_DIR: where the fleet lives (default /tmp; e.g. /dev/shm to take the disk out).
        self.dir = tempfile.mkdtemp(prefix="bosun-sb-", dir=os.environ.get("BOSUN_BENCH_DIR", "/tmp"))
        self.agents, self.daemon, self.bindir = [], None, None
        self.masters = False
        self.helper = os.path.realpath(f"{host_bin}/bosun-host")  # as scripts/fleet writes it
        subprocess.run([f"{ROOT}/scripts/fleet", "up", self.dir, str(n), "--bosun-host", f"{host_bin}/bosun-host"],
                       check=True, capture_output=True)
        self.ports = [open(f"{self.dir}/hosts/h{i}/port").read().strip() for i in range(1, n + 1)]
        self.sock = f"{self.dir}/state/bosund.sock"
        self.db = f"{self.dir}/state/bosun.db"

    def spool(self, i):
        return f"{self.dir}/hosts/h{i}/spool"

    def bosun(self, *args):
        return subprocess.run([f"{self.bindir}/bosun", "--socket", self.sock, *args], capture_output=True, text=True)

    def start_agents(self, host_bin):
        """One supervised agent per host (`bosun-host run -- sleep 3600`), for pause/resume to stop."""
        for i in range(1, self.n + 1):
            self.agents.append(subprocess.Popen([f"{host_bin}/bosun-host", "--state", self.spool(i), "run", "--",
                                                 "sleep", "3600"], stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def agents_known(self, pids=None):
        """True once bosund lists every host's agent thread live (filling `pids` {host: pid} if given)."""
        r = self.bosun("threads", "--json")
        live = [t for t in json_lines(r.stdout) if t["state"] != "exited"] if r.returncode in (0, 3) else []
        for t in live if pids is not None else []:
            pids[t["host"]] = t["pid"]
        return len(live) >= self.n

    def start(self, bindir, ready, timeout=300):
        """Starts `bindir`'s bosund on a fresh database and waits until all links are up and `ready()`."""
        self.stop_daemon()
        for suffix in ["", "-wal", "-shm"]:
            try:
                os.unlink(self.db + suffix)
            except FileNotFoundError:
                pass
        self.bindir = bindir
        self.use_host_helper(bindir)
        self.daemon = subprocess.Popen([f"{bindir}/bosund", "--config", f"{self.dir}/config", "--log-level", "error"],
                                       stdout=subprocess.DEVNULL, stderr=open(f"{self.dir}/bosund.log", "a"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.bosun("hosts", "--json")
            if r.returncode == 0:
                hosts = json_lines(r.stdout)
                if len(hosts) == self.n and all(h["state"] == "up" for h in hosts) and ready():
                    return
            time.sleep(0.1)
        sys.exit(f"{bindir}: the fleet did not come up within {timeout} s")

    def use_host_helper(self, bindir):
        """Each build's links run that build's `bosun-host serve` (the host side of pause is part
        of what is measured); the agents (`bosun-host run`) stay those started with the fleet."""
        helper = os.path.realpath(f"{bindir}/bosun-host")
        for i in range(1, self.n + 1):
            path = f"{self.dir}/config/hosts/h{i}.toml"
            text = open(path).read()
            if f"{self.helper} " not in text:
                sys.exit(f"{path}: no command running {self.helper}")
            open(path, "w").write(text.replace(f"{self.helper} ", f"{helper} "))
        self.helper = helper

    def stop_daemon(self):
        if self.daemon:
            stop_process(self.daemon)
            self.daemon = None

    def ssh_options(self):
        return (f"-i {self.dir}/supervisor/id_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile={self.dir}/known_hosts "
                f"-o StrictHostKeyChecking=yes -o BatchMode=yes")

    def open_masters(self):
        """One ControlMaster connection per host, kept open (ControlPersist) until `close_masters`."""
        os.makedirs(f"{self.dir}/cm", exist_ok=True)
        procs = [subprocess.Popen(["ssh", *self.ssh_options().split(), "-o", "ControlMaster=yes",
                                   "-o", f"ControlPath={self.dir}/cm/%p", "-o", "ControlPersist=yes", "-fN",
                                   "-p", port, f"{USER}@127.0.0.1"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for port in self.ports]
        for p in procs:
            p.wait()
        self.masters = True

    def close_masters(self):
        if not self.masters:
            return
        for port in self.ports:
            subprocess.run(["ssh", "-o", f"ControlPath={self.dir}/cm/%p", "-O", "exit", "-p", port,
                            f"{USER}@127.0.0.1"], capture_output=True)
        self.masters = False

    def close(self):
        self.close_masters()
        stop_agents(self.agents)
        self.stop_daemon()
        subprocess.run([f"{ROOT}/scripts/fleet", "down", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(argv):
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True)
    return (time.monotonic() - t) * 1000, r


INOTIFY = "/proc/sys/fs/inotify/max_user_instances"


def raise_inotify(n):
    """Each `bosun-host serve` holds an inotify instance (and so does each agent's `run`).
    Returns the value to restore after the run, or None when nothing was changed."""
    try:
        current = int(open(INOTIFY).read())
        wanted = 4 * n + 256
        if current < wanted:
            open(INOTIFY, "w").write(str(wanted))
            print(f"(raised fs.inotify.max_user_instances from {current} to {wanted} for {n} hosts)")
            return current
    except (OSError, ValueError) as e:
        print(f"(could not raise fs.inotify.max_user_instances: {e})")
    return None


def restore_inotify(value):
    if value is not None:
        try:
            open(INOTIFY, "w").write(str(value))
        except OSError:
            pass


def pause_bench(builds, n, rounds, passes, pssh, host_bin):
    """Returns {label: {"pause": [ms], "resume": [ms]}}."""
    restore = raise_inotify(n)
    fleet = None
    results = {}
    try:
        fleet = Fleet(n, host_bin)
        fleet.start_agents(host_bin)
        pids = {}

        for _ in range(passes):
            for label, bindir in builds:
                fleet.start(bindir, lambda: fleet.agents_known(pids))
                out = results.setdefault(label, {"pause": [], "resume": [], "partial": 0})
                for _ in range(rounds):
                    ms, r = timed([f"{bindir}/bosun", "--socket", fleet.sock, "pause", "all", "--hard", "bench"])
                    if r.returncode != 0:
                        out["partial"] += 1
                    out["pause"].append(ms)
                    time.sleep(0.3)  # let the hosts' thread updates land: each command starts from quiet
                    ms, r = timed([f"{bindir}/bosun", "--socket", fleet.sock, "resume", "all"])
                    if r.returncode != 0:
                        out["partial"] += 1
                    out["resume"].append(ms)
                    time.sleep(0.3)
                fleet.stop_daemon()
        if pssh:
            piddir = f"{fleet.dir}/pids"
            os.makedirs(piddir, exist_ok=True)
            for i in range(1, n + 1):
                open(f"{piddir}/{fleet.ports[i - 1]}.pid", "w").write(str(pids[f"h{i}"]))
            hosts = f"{fleet.dir}/pssh-hosts"
            with open(hosts, "w") as f:
                for port in fleet.ports:
                    f.write(f"127.0.0.1:{port} {USER}\n")
            # One ssh per host, each signalling that host's agent process group.
            cmd = f"kill -{{}} -- -$(cat {piddir}/$(echo $SSH_CONNECTION | cut -d' ' -f4).pid)"

            def run_pssh(extra, label):
                out = results.setdefault(label, {"pause": [], "resume": [], "partial": 0})
                for _ in range(rounds):
                    for sig, key in (("STOP", "pause"), ("CONT", "resume")):
                        ms, r = timed(["parallel-ssh", "-h", hosts, "-p", str(n), "-t", "120", "-x",
                                       fleet.ssh_options() + extra, cmd.format(sig)])
                        if r.returncode != 0:
                            out["partial"] += 1
                        out[key].append(ms)

            run_pssh("", "parallel-ssh")
            fleet.open_masters()
            run_pssh(f" -o ControlMaster=no -o ControlPath={fleet.dir}/cm/%p", "parallel-ssh, ControlMaster")
            fleet.close_masters()
        return results
    finally:
        if fleet:
            fleet.close()
        restore_inotify(restore)


def listing_bench(builds, threads, pending, samples, passes, host_bin):
    """Returns ({label: {command: [ms]}}, counts)."""
    hosts = 10
    fleet = Fleet(hosts, host_bin)
    results = {}
    try:
        per, per_pending = threads // hosts, pending // hosts
        now = time.time()
        ids = []
        for i in range(1, hosts + 1):
            d = f"{fleet.spool(i)}/threads"
            os.makedirs(d, exist_ok=True)
            for j in range(per):
                tid = uuid.uuid4().hex[:8]
                ids.append((f"h{i}", tid))
                json.dump({"id": tid, "agent": "codex", "argv": ["codex", "exec", f"task {j}"],
                           "cwd": f"/srv/repo{j % 7}", "repo": f"/srv/repo{j % 7}", "branch": f"agent/{j}",
                           "state": "exited" if j % 3 else "idle", "started_at": iso(now - j),
                           "last_activity": iso(now), "title": f"task {j}"}, open(f"{d}/{tid}.json", "w"))
            d = f"{fleet.spool(i)}/requests"
            os.makedirs(d, exist_ok=True)
            for j in range(per_pending):
                rid = f"r{uuid.uuid4().hex[:12]}"
                json.dump({"id": rid, "thread_id": ids[-1 - (j % max(per, 1))][1] if per else "t1",
                           "created_at": iso(now), "deadline_at": iso(now + 86400),
                           "evidence": {"tool": "Bash", "command": f"npm install left-pad-{j}", "paths": [],
                                        "reason": "a dependency", "hook_event": "PreToolUse", "agent": "codex",
                                        "session_id": f"s{j}", "cwd": "/srv/repo", "repo": "/srv/repo",
                                        "branch": "main", "changed_files": [], "tests_run": [], "side_effects": [],
                                        "network": [], "credentials": []}}, open(f"{d}/{rid}.json", "w"))
        total = per * hosts
        expected_pending = per_pending * hosts

        def synced():
            r = fleet.bosun("threads", "--json")
            if r.returncode not in (0, 3) or len(r.stdout.splitlines()) < total:
                return False
            q = fleet.bosun("queue", "--json")
            return q.returncode == 0 and len(q.stdout.splitlines()) >= expected_pending

        # A probe whose 6-char prefix is all digits would be read as a request number: pick one with a letter.
        probes = [(h, t) for h, t in ids[len(ids) // 2:] + ids if not t[:6].isdigit()]
        probe_host, probe_id = probes[0] if probes else ("h1", "none")
        for _ in range(passes):
            for label, bindir in builds:
                fleet.start(bindir, synced, timeout=900)
                bosun = [f"{bindir}/bosun", "--socket", fleet.sock]
                commands = [
                    ("threads --json", bosun + ["threads", "--json"]),
                    ("threads (table)", bosun + ["threads"]),
                    ("threads --host h1 --json", bosun + ["threads", "--host", "h1", "--json"]),
                    (f"show <6-char id prefix>", bosun + ["show", probe_id[:6]]),
                    ("show h1/<id>", bosun + ["show", f"{probe_host}/{probe_id}"]),
                    ("queue", bosun + ["queue"]),
                    ("queue --json", bosun + ["queue", "--json"]),
                    ("floor: whoami (process start + socket round trip)", bosun + ["whoami"]),
                    ("floor: sqlite3 -json SELECT * FROM threads", ["sqlite3", "-json", fleet.db,
                                                                     "SELECT * FROM threads"]),
                ]
                out = results.setdefault(label, {})
                for name, argv in commands:
                    for _ in range(samples):
                        ms, r = timed(argv)
                        if r.returncode not in (0, 3):
                            sys.exit(f"{label}: {' '.join(argv[1:])} failed: {r.stderr.strip()}")
                        out.setdefault(name, []).append(ms)
                fleet.stop_daemon()
        return results, (total, expected_pending)
    finally:
        fleet.close()


def summary(xs):
    return f"p50 {pct(xs, 50):7.1f} ms  p90 {pct(xs, 90):7.1f}  (n={len(xs)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="10,100")
    ap.add_argument("--threads", type=int, default=10000)
    ap.add_argument("--pending", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5, help="pause/resume rounds per build and pass")
    ap.add_argument("--passes", type=int, default=2, help="times each build is started (alternating)")
    ap.add_argument("--samples", type=int, default=30, help="listing samples per build and pass")
    ap.add_argument("--bin", default=None, help="the build to measure (default: this checkout's release build)")
    ap.add_argument("--baseline", default=None, help="a build to compare with, e.g. main's release build")
    ap.add_argument("--no-pssh", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one round: checks the script works")
    opts = ap.parse_args()
    bindir = opts.bin or subprocess.run(["swift", "build", "--show-bin-path", "-c", "release"], check=True,
                                        capture_output=True, text=True).stdout.strip()
    if opts.smoke:
        opts.hosts, opts.threads, opts.pending, opts.rounds, opts.passes, opts.samples = "3", 60, 10, 1, 1, 2
        opts.no_pssh = opts.no_pssh or shutil.which("parallel-ssh") is None
    if not opts.no_pssh and shutil.which("parallel-ssh") is None:
        sys.exit("parallel-ssh not found (apt-get install pssh), or pass --no-pssh")
    builds = ([("baseline", opts.baseline)] if opts.baseline else []) + [("this build", bindir)]
    print(f"builds: " + ", ".join(f"{label} = {path}" for label, path in builds))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    for n in [int(x) for x in opts.hosts.split(",") if x]:
        results = pause_bench(builds, n, opts.rounds, opts.passes, not opts.no_pssh, bindir)
        print(f"\n{n} hosts, every host acknowledged (ms, whole command including process start):")
        for label, r in results.items():
            note = f"  [{r['partial']} not all acknowledged]" if r["partial"] else ""
            print(f"  {label:30} pause {summary(r['pause'])} | resume {summary(r['resume'])}{note}")
        this = results["this build"]
        for label, r in results.items():
            if label != "this build":
                print(f"  ratio {label} / this build (p50): pause {pct(r['pause'], 50) / pct(this['pause'], 50):.1f}x, "
                      f"resume {pct(r['resume'], 50) / pct(this['resume'], 50):.1f}x")
    if opts.threads:
        results, (total, pending) = listing_bench(builds, opts.threads, opts.pending, opts.samples, opts.passes,
                                                  bindir)
        print(f"\n{total} threads and {pending} pending requests known (10 hosts):")
        for label, r in results.items():
            print(f"  {label}:")
            for name, xs in r.items():
                print(f"    {name:52} {summary(xs)}")
        if "baseline" in results:
            print("  ratio baseline / this build (p50):")
            for name, xs in results["this build"].items():
                if not name.startswith("floor"):
                    print(f"    {name:52} {pct(results['baseline'][name], 50) / pct(xs, 50):.1f}x")


if __name__ == "__main__":
    main()
