#!/usr/bin/env python3
"""Issue 4 benchmarks: `bosun pause all --hard` wall time for N hosts next to parallel-ssh sending
`kill -STOP` to the same hosts, and shell latency of `threads` with >= 5,000 threads known.

Usage: Benchmarks/control_bench.py [--hosts 10,50,100] [--threads 5000] [--bin DIR]
(after `swift build -c release`; needs the pssh package for the comparison)
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time, uuid

from benchlib import ROOT, pct, stop_agents




class Fleet:
    def __init__(self, bindir, n):
        self.bindir, self.n = bindir, n
        self.dir = tempfile.mkdtemp(prefix="bosun-cb-", dir="/tmp")
        self.daemon, self.agents = None, []
        subprocess.run([f"{ROOT}/scripts/fleet", "up", self.dir, str(n), "--bosun-host", f"{bindir}/bosun-host"],
                       check=True, capture_output=True)
        self.sock = f"{self.dir}/state/bosund.sock"

    def port(self, i):
        return open(f"{self.dir}/hosts/h{i}/port").read().strip()

    def start(self, extra_toml=""):
        with open(f"{self.dir}/config/bosund.toml", "a") as f:
            f.write(extra_toml)
        self.daemon = subprocess.Popen([f"{self.bindir}/bosund", "--config", f"{self.dir}/config", "--log-level", "error"],
                                       stdout=subprocess.DEVNULL, stderr=open(f"{self.dir}/bosund.log", "w"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r = self.bosun("hosts", "--json")
            if r.returncode == 0 and len(r.stdout.splitlines()) == self.n:
                return
            time.sleep(0.05)
        sys.exit("hosts did not come up")

    def bosun(self, *args):
        return subprocess.run([f"{self.bindir}/bosun", "--socket", self.sock, *args], capture_output=True, text=True)

    def stop(self):
        stop_agents(self.agents)
        if self.daemon:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        subprocess.run([f"{ROOT}/scripts/fleet", "down", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def pause_bench(bindir, n, rounds=3):
    fleet = Fleet(bindir, n)
    try:
        fleet.start()
        piddir = f"{fleet.dir}/pids"
        os.makedirs(piddir)
        for i in range(1, n + 1):
            fleet.agents.append(subprocess.Popen([f"{bindir}/bosun-host", "--state", f"{fleet.dir}/hosts/h{i}/spool",
                                                  "run", "--", "sleep", "3600"], stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while len(json_lines(fleet.bosun("threads", "--json").stdout)) < n:
            if time.monotonic() > deadline:
                sys.exit("threads did not appear")
            time.sleep(0.05)
        for t in json_lines(fleet.bosun("threads", "--json").stdout):
            port = fleet.port(int(t["host"][1:]))
            open(f"{piddir}/{port}.pid", "w").write(str(t["pid"]))
        bosun_times, pssh_times = [], []
        for _ in range(rounds):
            t = time.monotonic()
            r = fleet.bosun("pause", "all", "--hard", "bench")
            bosun_times.append((time.monotonic() - t) * 1000)
            if r.returncode != 0:
                sys.exit(f"pause all failed: {r.stdout} {r.stderr}")
            fleet.bosun("resume", "all")
            hosts = f"{fleet.dir}/pssh-hosts"
            with open(hosts, "w") as f:
                for i in range(1, n + 1):
                    f.write(f"127.0.0.1:{fleet.port(i)} {os.environ.get('USER', 'root')}\n")
            # The baseline: one ssh per host, each sending SIGSTOP to that host's agent group.
            cmd = f"kill -STOP -- -$(cat {piddir}/$(echo $SSH_CONNECTION | cut -d' ' -f4).pid)"
            t = time.monotonic()
            r = subprocess.run(["parallel-ssh", "-h", hosts, "-p", str(n), "-t", "60", "-x",
                                f"-i {fleet.dir}/supervisor/id_ed25519 -o UserKnownHostsFile={fleet.dir}/known_hosts "
                                f"-o StrictHostKeyChecking=yes -o BatchMode=yes", cmd], capture_output=True, text=True)
            pssh_times.append((time.monotonic() - t) * 1000)
            if r.returncode != 0:
                sys.exit(f"parallel-ssh failed: {r.stdout} {r.stderr}")
            subprocess.run(["parallel-ssh", "-h", hosts, "-p", str(n), "-x",
                            f"-i {fleet.dir}/supervisor/id_ed25519 -o UserKnownHostsFile={fleet.dir}/known_hosts",
                            cmd.replace("-STOP", "-CONT")], capture_output=True)
        return bosun_times, pssh_times
    finally:
        fleet.stop()


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def threads_bench(bindir, total, samples=30):
    hosts = 10
    fleet = Fleet(bindir, hosts)
    try:
        per = total // hosts
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        for i in range(1, hosts + 1):
            d = f"{fleet.dir}/hosts/h{i}/spool/threads"
            os.makedirs(d, exist_ok=True)
            for j in range(per):
                tid = uuid.uuid4().hex[:8]
                json.dump({"id": tid, "agent": "codex", "argv": ["codex", "exec", f"task {j}"], "cwd": f"/srv/repo{j % 7}",
                           "repo": f"/srv/repo{j % 7}", "branch": f"agent/{j}", "state": "exited" if j % 3 else "idle",
                           "started_at": now, "last_activity": now, "title": f"task {j}"}, open(f"{d}/{tid}.json", "w"))
        port = subprocess.run(["python3", "-c", "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"],
                              capture_output=True, text=True).stdout.strip()
        os.makedirs(f"{fleet.dir}/config/operators", exist_ok=True)
        key = f"{fleet.dir}/op_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        pub = open(key + ".pub").read().strip()
        open(f"{fleet.dir}/config/operators/op.toml", "w").write(f'role = "operator"\n[[key]]\npublic_key = "{pub}"\nchannel = "desk"\n')
        fleet.start(f'\n[front_door]\nlisten = "127.0.0.1:{port}"\n')
        deadline = time.monotonic() + 120
        while len(fleet.bosun("threads", "--json").stdout.splitlines()) < per * hosts:
            if time.monotonic() > deadline:
                sys.exit("threads did not sync")
            time.sleep(0.2)
        hostkey = subprocess.run(["ssh-keygen", "-y", "-f", f"{fleet.dir}/state/front_door_ed25519"], capture_output=True,
                                 text=True).stdout.strip()
        open(f"{fleet.dir}/door_known", "w").write(f"[127.0.0.1]:{port} {hostkey}\n")
        ssh = ["ssh", "-p", port, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
               "-o", f"UserKnownHostsFile={fleet.dir}/door_known", "-T", "op@127.0.0.1"]
        results = {}
        for name, argv in [("bosun threads (table, socket)", [f"{bindir}/bosun", "--socket", fleet.sock, "threads"]),
                           ("bosun threads --json (socket)", [f"{bindir}/bosun", "--socket", fleet.sock, "threads", "--json"]),
                           ("bosun threads --host h1 (socket)", [f"{bindir}/bosun", "--socket", fleet.sock, "threads", "--host", "h1"]),
                           ("ssh door threads (table)", ssh + ["threads"]),
                           ("ssh door true-ish: whoami", ssh + ["whoami"])]:
            xs = []
            for _ in range(samples):
                t = time.monotonic()
                subprocess.run(argv, capture_output=True)
                xs.append((time.monotonic() - t) * 1000)
            results[name] = xs
        return per * hosts, results
    finally:
        fleet.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default="10,50,100")
    ap.add_argument("--threads", type=int, default=5000)
    ap.add_argument("--bin", default=None)
    opts = ap.parse_args()
    bindir = opts.bin or subprocess.run(["swift", "build", "--show-bin-path", "-c", "release"], check=True,
                                        capture_output=True, text=True).stdout.strip()
    for n in [int(x) for x in opts.hosts.split(",") if x]:
        b, p = pause_bench(bindir, n)
        print(f"pause all --hard, {n} hosts: bosun p50 {pct(b,50):.0f} ms (min {min(b):.0f}, max {max(b):.0f}); "
              f"parallel-ssh kill -STOP p50 {pct(p,50):.0f} ms (min {min(p):.0f}, max {max(p):.0f}); rounds={len(b)}")
    if opts.threads:
        total, results = threads_bench(bindir, opts.threads)
        for name, xs in results.items():
            print(f"{name} with {total} threads: p50 {pct(xs,50):.1f} ms, p90 {pct(xs,90):.1f} ms, p99 {pct(xs,99):.1f} ms")


if __name__ == "__main__":
    main()
