"""Bosun's fault suite (issue 7): real sshd hosts in network namespaces, a real bosund, approval
load from every host through `bosun-host hook`, an operator bot, faults injected one after another
while the load runs, and invariants checked at the end. See scripts/fault-suite --help."""

import argparse
import collections
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns_fleet  # noqa: E402
from netns_fleet import alive, cmdline, process_state, run  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NFQ_DELAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nfq_delay.py")
TIMEOUT_PREFIX = "Bosun: no decision within"
ALL_FAULTS = [
    "kill-bosund", "stop-bosund", "kill-serve", "link-down", "delay-loss", "restart-sshd", "host-key",
    "disk-full",
]
QUICK_FAULTS = ["kill-bosund", "stop-bosund", "kill-serve", "link-down", "disk-full"]


class Interrupted(Exception):
    pass


def on_signal(number, _frame):
    raise Interrupted("signal %d" % number)


# ── the run ─────────────────────────────────────────────────────────────────────────────────


class Suite:
    def __init__(self, args):
        self.args = args
        self.run_id = "%dx%s" % (os.getpid(), secrets.token_hex(2))
        self.root = "/tmp/bosunf-" + self.run_id
        self.state_dir = os.path.join(self.root, "state")  # the tmpfs
        self.config_dir = os.path.join(self.root, "config")
        self.socket = os.path.join(self.root, "run", "bosund.sock")
        self.bin = args.bin_dir
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.lock = threading.Lock()
        self.stop_load = threading.Event()
        self.stop_bot = threading.Event()
        self.cleanups = []  # (what, function), undone in reverse order
        self.fleet = None
        self.daemon = None
        self.hooks = []  # HookRecord dicts
        self.votes = []  # operator bot votes
        self.faults = []  # fault records
        self.intents = {}  # token -> "approve" | "deny" (what the operator bot will do)
        self.rng = random.Random(args.seed)
        self.sequence = 0
        self.log_file = None
        self.results = []  # (name, ok, evidence lines)
        self.mounted = False
        self.notes = []

    # ── output ──

    def now(self):
        return time.monotonic() - self.t0

    def note(self, text):
        line = "[%7.1fs] %s" % (self.now(), text)
        print(line, flush=True)
        if self.log_file:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def cleanup(self, what, function):
        self.cleanups.append((what, function))

    def undo_all(self):
        while self.cleanups:
            what, function = self.cleanups.pop()
            try:
                function()
            except Exception as error:  # keep undoing the rest
                print("fault-suite: cleanup '%s' failed: %s" % (what, error), file=sys.stderr, flush=True)

    # ── commands ──

    def bosun(self, *argv, timeout=10):
        """Runs `bosun --socket S ARGV` (the operator's CLI); returns (status, stdout, stderr).
        A call that does not finish in `timeout` is killed (by its PID) and returns status None."""
        process = subprocess.Popen(
            [os.path.join(self.bin, "bosun"), "--socket", self.socket] + list(argv),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, COLUMNS="200"))
        try:
            out, err = process.communicate(timeout=timeout)
            return process.returncode, out, err
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            return None, out, err

    def hosts_json(self, timeout=5):
        status, out, _ = self.bosun("hosts", "--json", timeout=timeout)
        if status not in (0, 3):
            return None
        found = {}
        for line in out.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            found[entry.get("name")] = entry
        return found

    def wait_for(self, what, condition, timeout, interval=0.25):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(interval)
        return condition()

    def all_hosts_up(self):
        hosts = self.hosts_json()
        return bool(hosts) and len(hosts) == len(self.fleet.hosts) and all(
            h.get("state") == "up" for h in hosts.values())

    # ── set-up ──

    def setup(self):
        args = self.args
        os.makedirs(os.path.join(self.root, "run"), exist_ok=True)
        self.cleanup("remove " + self.root, self.remove_root)
        self.log_file = open(os.path.join(self.root, "suite.log"), "w")
        for name in ("bosund", "bosun", "bosun-host"):
            if not os.access(os.path.join(self.bin, name), os.X_OK):
                raise RuntimeError("%s/%s not found: build first (swift build) or pass --bin-dir" % (self.bin, name))
        self.clear_stale()
        self.raise_inotify_limit()
        self.fleet = netns_fleet.NetnsFleet(self.root, self.run_id, args.hosts, os.path.join(self.bin, "bosun-host"))
        self.cleanup("delete namespaces and veth links", lambda: self.fleet.teardown(self.note))
        supervisor_key = self.fleet.up(self.note)
        self.note("hosts: %d sshd in their namespaces, pids %s"
                  % (len(self.fleet.hosts), " ".join(str(h.sshd.pid) for h in self.fleet.hosts)))
        os.makedirs(self.state_dir)
        run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % args.state_mb, "bosunf-state", self.state_dir])
        self.mounted = True
        self.cleanup("unmount the state tmpfs", self.unmount_state)
        self.note("state_dir: tmpfs of %d MiB at %s" % (args.state_mb, self.state_dir))
        self.links = collections.OrderedDict([
            ("connect_timeout", 5), ("keepalive_interval", args.keepalive_interval),
            ("keepalive_timeout", args.keepalive_timeout), ("backoff_initial", 0.2), ("backoff_max", 2),
        ])
        self.fleet.write_config(
            self.config_dir, self.state_dir, self.socket, supervisor_key, self.links, os.path.join(REPO, "policies"))
        self.check_policy()
        self.daemon = Daemon(self)
        self.cleanup("stop bosund", self.daemon.stop)
        self.daemon.start()
        if not self.wait_for("hosts up", self.all_hosts_up, 60):
            raise RuntimeError("not every host came up: %s" % self.hosts_json())
        for host in self.fleet.hosts:
            if not self.wait_for("welcomed", lambda: os.path.exists(os.path.join(host.spool, "policy.json")), 20):
                raise RuntimeError("%s never got a policy snapshot" % host.name)
        self.note("bosund pid %d: all %d hosts up" % (self.daemon.pid, len(self.fleet.hosts)))

    def remove_root(self):
        if self.args.keep:
            print("fault-suite: kept %s" % self.root, flush=True)
            return
        if self.mounted:
            return  # never remove a directory with a mount still under it
        shutil.rmtree(self.root, ignore_errors=True)

    def unmount_state(self):
        if not self.mounted:
            return
        for attempt in range(10):
            if run(["umount", self.state_dir], check=False).returncode == 0:
                self.mounted = False
                return
            time.sleep(0.3)
        if run(["umount", "-l", self.state_dir], check=False).returncode == 0:
            self.mounted = False

    def clear_stale(self):
        """Namespaces and mounts of an earlier run whose process is gone (e.g. it was SIGKILLed)."""
        for name, pid in netns_fleet.stale_namespaces():
            inode = os.stat("/run/netns/" + name).st_ino
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        if os.readlink("/proc/%s/ns/net" % entry) == "net:[%d]" % inode:
                            os.kill(int(entry), signal.SIGKILL)
                    except OSError:
                        pass
            run(["ip", "netns", "del", name], check=False)
            self.note("removed namespace %s left by fault suite pid %d (no longer running)" % (name, pid))
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            argv = cmdline(int(entry))
            match = re.search(r"/tmp/bosunf-(\d+)x[0-9a-f]{4}/config$", " ".join(argv))
            if argv and os.path.basename(argv[0]) == "bosund" and match and not alive(int(match.group(1))):
                os.kill(int(entry), signal.SIGKILL)
                self.note("killed bosund pid %s left by fault suite pid %s" % (entry, match.group(1)))
        with open("/proc/mounts") as f:
            for line in f:
                point = line.split()[1]
                match = re.match(r"^/tmp/bosunf-(\d+)x[0-9a-f]{4}/state$", point)
                if match and not alive(int(match.group(1))):
                    run(["umount", "-l", point], check=False)
                    shutil.rmtree(os.path.dirname(point), ignore_errors=True)
                    self.note("unmounted %s left by fault suite pid %s" % (point, match.group(1)))

    def raise_inotify_limit(self):
        """Each serve and each waiting hook holds an inotify instance (issue 7, defect 10); all of
        them run as root here, beside whatever else root runs on this machine."""
        path = "/proc/sys/fs/inotify/max_user_instances"
        with open(path) as f:
            limit = int(f.read())
        in_use = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                for fd in os.listdir("/proc/%s/fd" % entry):
                    try:
                        if os.readlink("/proc/%s/fd/%s" % (entry, fd)) == "anon_inode:inotify":
                            in_use += 1
                    except OSError:
                        pass
            except OSError:
                pass
        # Each host: its serve, its waiting hooks, a hook starting while another ends; plus headroom
        # for the other test runs sharing root's limit on this machine.
        needed = in_use + self.args.hosts * (self.args.workers + 3) + 128
        if needed > limit and not self.args.keep_inotify_limit:
            wanted = max(1024, needed * 2)
            with open(path, "w") as f:
                f.write(str(wanted))
            self.note("raised fs.inotify.max_user_instances from %d to %d (%d instances in use by root, "
                      "this run needs ~%d more); left raised so concurrent runs are not cut off"
                      % (limit, wanted, in_use, needed - in_use))
            self.notes.append("fs.inotify.max_user_instances raised %d -> %d" % (limit, wanted))

    def check_policy(self):
        """The load's command templates must get the verdicts the load expects from the policy."""
        expected = {"git status -- fsk0": "allow", "ls -la fsk0": "allow", "git push origin fsk0": "deny",
                    "npm install fsk0": "ask"}
        for command, verdict in expected.items():
            # `policy explain` exits with the verdict: 0 allow, 1 deny, 2 ask.
            result = run([os.path.join(self.bin, "bosun"), "policy", "explain", "--config", self.config_dir, "--"]
                         + command.split(), check=False)
            found = re.search(r"^decision:\s+(\w+)", result.stdout, re.M)
            exit_code = {"allow": 0, "deny": 1, "ask": 2}[verdict]
            if not found or found.group(1) != verdict or result.returncode != exit_code:
                raise RuntimeError("policy check: '%s' should be %s, policy says:\n%s" % (command, verdict, result.stdout))

    # ── main ──

    def execute(self):
        args = self.args
        started = time.monotonic()
        self.setup()
        load = LoadGenerator(self)
        bot = OperatorBot(self)
        bot.start()
        load.start()
        self.note("load: %d worker(s) per host, deadline %gs, unreachable grace %gs; operator bot on"
                  % (args.workers, args.deadline, args.grace))
        time.sleep(args.warmup)
        injector = Faults(self)
        for name in args.faults:
            if self.stop_load.is_set():
                break
            injector.inject(name)
        rest = args.duration - (time.monotonic() - started)
        if rest > 0:
            self.note("faults done; load continues %.0fs more" % rest)
            time.sleep(rest)
        self.note("stopping the load; waiting for every hook to answer")
        self.stop_load.set()
        load.join(args.deadline + 30)
        self.quiesce()
        self.stop_bot.set()
        bot.join(30)
        self.check_invariants()
        self.summary(time.monotonic() - started)
        return all(ok for _, ok, _ in self.results)

    def quiesce(self):
        """Lets every host reconnect and drain its outbox, so the store has heard everything."""

        def unsettled():
            hosts = self.hosts_json() or {}
            waiting = ["%s %s" % (name, h.get("state")) for name, h in sorted(hosts.items()) if h.get("state") != "up"]
            if not hosts:
                waiting.append("bosund does not answer")
            for host in self.fleet.hosts:
                outbox = os.path.join(host.spool, "outbox")
                names = sorted(n for n in os.listdir(outbox) if n.endswith(".json")) if os.path.isdir(outbox) else []
                if names:
                    waiting.append("%s outbox: %s" % (host.name, " ".join(names[:5])))
            return waiting

        if self.wait_for("quiet", lambda: not unsettled(), 60, interval=0.5):
            time.sleep(2)
        else:
            self.note("warning: not settled after 60 s (every host up, every outbox acknowledged): %s"
                      % "; ".join(unsettled()))


# ── bosund ──────────────────────────────────────────────────────────────────────────────────


class Daemon:
    """bosund, started and stopped by this suite only, by PID. Every exit is recorded, with
    whether the suite caused it."""

    def __init__(self, suite):
        self.suite = suite
        self.process = None
        self.log_path = os.path.join(suite.root, "bosund.log")
        self.history = []  # dicts: pid, started, ended, status, expected
        self.expected_exit = False
        self.lock = threading.Lock()

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def start(self):
        with open(self.log_path, "a") as log:
            process = subprocess.Popen(
                [os.path.join(self.suite.bin, "bosund"), "--config", self.suite.config_dir, "--log-level", "info"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        with self.lock:
            self.process = process
            self.expected_exit = False
            entry = {"pid": process.pid, "started": self.suite.now(), "ended": None, "status": None,
                     "expected": None}
            self.history.append(entry)
        threading.Thread(target=self.watch, args=(process, entry), daemon=True).start()
        ok = self.suite.wait_for("socket", lambda: process.poll() is not None or self.suite.bosun(
            "version", timeout=3)[0] == 0, 30)
        if process.poll() is not None:
            raise RuntimeError("bosund exited at start (status %s); log %s" % (process.returncode, self.log_path))
        if not ok:
            raise RuntimeError("bosund (pid %d) does not answer on its socket" % process.pid)
        return process.pid

    def watch(self, process, entry):
        process.wait()
        with self.lock:
            entry["ended"] = self.suite.now()
            entry["status"] = process.returncode
            entry["expected"] = self.expected_exit and self.process is process
        if not entry["expected"] and not self.suite.stop_bot.is_set():
            self.suite.note("!! bosund pid %d exited on its own (status %s)" % (process.pid, process.returncode))

    def kill(self):
        """SIGKILL by PID; returns the exit status seen."""
        with self.lock:
            self.expected_exit = True
            process = self.process
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return process.returncode

    def stop(self):
        process = self.process
        if process is None or process.poll() is not None:
            return
        with self.lock:
            self.expected_exit = True
        try:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except ProcessLookupError:
            pass

    def restart_if_crashed(self):
        process = self.process
        if process is not None and process.poll() is not None and not self.suite.stop_bot.is_set():
            self.suite.note("restarting bosund after an exit the suite did not cause")
            self.start()


# ── load ────────────────────────────────────────────────────────────────────────────────────


class LoadGenerator:
    """Approval requests from every host, continuously: workers per host each run one
    `ip netns exec NS bosun-host --state SPOOL hook AGENT` at a time, with a real payload."""

    KINDS = [  # (kind, weight)
        ("allow", 35), ("deny", 20), ("ask-approve", 25), ("ask-deny", 20),
    ]
    SHAPES = [  # (agent, event, weight)
        ("claude", "PreToolUse", 45), ("codex", "PreToolUse", 35), ("claude", "PermissionRequest", 12),
        ("codex", "PermissionRequest", 8),
    ]

    def __init__(self, suite):
        self.suite = suite
        self.threads = []

    def start(self):
        for host in self.suite.fleet.hosts:
            for worker in range(self.suite.args.workers):
                thread = threading.Thread(target=self.loop, args=(host, worker), daemon=True)
                thread.start()
                self.threads.append(thread)

    def join(self, timeout):
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, end - time.monotonic()))
        stuck = [t for t in self.threads if t.is_alive()]
        if stuck:
            self.suite.note("warning: %d load worker(s) still waiting on a hook" % len(stuck))

    def loop(self, host, worker):
        suite = self.suite
        rng = random.Random("%s-%d-%s" % (host.name, worker, suite.args.seed))
        sessions = {
            "claude": "fsk-%s-%s-w%d-claude" % (suite.run_id, host.name, worker),
            "codex": "019a-%s-%s-w%d" % (suite.run_id, host.name, worker),
        }
        while not suite.stop_load.is_set():
            kind = weighted(rng, self.KINDS)
            agent, event = weighted(rng, [((a, e), w) for a, e, w in self.SHAPES])
            with suite.lock:
                suite.sequence += 1
                token = "fsk%d%s" % (suite.sequence, host.name)
                if kind.startswith("ask-"):
                    suite.intents[token] = kind[4:]
            try:
                self.one(host, kind, agent, event, token, sessions[agent], rng)
            except Exception as error:
                suite.note("load worker %s/%d: %s" % (host.name, worker, error))
            time.sleep(rng.uniform(*suite.args.pause))

    def one(self, host, kind, agent, event, token, session, rng):
        suite = self.suite
        command = {
            "allow": rng.choice(["git status -- %s", "ls -la %s"]) % token,
            "deny": "git push origin %s" % token,
            "ask-approve": "npm install %s" % token,
            "ask-deny": "npm install %s" % token,
        }[kind]
        # Claude states a reason (required for the expand tier); Codex PreToolUse cannot.
        description = None if (agent == "codex" and event == "PreToolUse") else "fault suite load %s" % token
        payload = make_payload(agent, event, command, session, description, rng)
        environment = dict(os.environ)
        environment.update({
            "BOSUN_HOOK_DEADLINE": str(suite.args.deadline), "BOSUN_HOOK_UNREACHABLE_GRACE": str(suite.args.grace),
            "BOSUN_HOOK_PAUSE_HOLD": "0",
        })
        environment.pop("BOSUN_THREAD_ID", None)
        record = {
            "token": token, "host": host.name, "kind": kind, "agent": agent, "event": event, "command": command,
            "start": suite.now(),
        }
        process = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace, os.path.join(suite.bin, "bosun-host"), "--state", host.spool,
             "hook", agent],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
            cwd="/tmp")
        try:
            out, err = process.communicate(json.dumps(payload), timeout=suite.args.deadline + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            err += "\n[fault suite: killed after deadline + 60 s]"
        record.update({"end": suite.now(), "status": process.returncode, "stdout": out, "stderr": err})
        record["elapsed"] = record["end"] - record["start"]
        verdict, reason, problem = parse_answer(agent, event, process.returncode, out)
        record.update({"verdict": verdict, "reason": reason, "problem": problem})
        with suite.lock:
            suite.hooks.append(record)


def weighted(rng, items):
    total = sum(weight for _, weight in items)
    pick = rng.uniform(0, total)
    for value, weight in items:
        pick -= weight
        if pick <= 0:
            return value
    return items[-1][0]


def make_payload(agent, event, command, session, description, rng):
    """Hook input in the shapes the real agents send (AGENTS.md; Tests/BosunIntegrationTests)."""
    tool_input = {"command": command}
    if description:
        tool_input["description"] = description
    payload = {
        "session_id": session, "transcript_path": "/tmp/%s-transcript.jsonl" % agent, "cwd": "/tmp",
        "hook_event_name": event, "permission_mode": "default", "tool_name": "Bash", "tool_input": tool_input,
    }
    if agent == "claude":
        payload["prompt_id"] = "p-1"
        if event == "PreToolUse":
            payload["tool_use_id"] = "toolu_%08x" % rng.getrandbits(32)
        else:
            payload["permission_suggestions"] = []
    else:
        payload.update({"turn_id": "turn-1", "model": "gpt-5-codex"})
        if event == "PreToolUse":
            payload["tool_use_id"] = "call_%08x" % rng.getrandbits(32)
    return payload


def parse_answer(agent, event, status, stdout):
    """What the agent was told: (verdict allow|deny|timeout|None, reason, problem or None)."""
    text = stdout.strip()
    lines = text.splitlines()
    if status != 0:
        last_resort = status == 2 and not text
        return ("deny" if last_resort else None, None,
                "exit status %s%s" % (status, " (last-resort deny)" if last_resort else ""))
    if len(lines) > 1:
        return None, None, "%d answers printed" % len(lines)
    if not text:
        if agent == "codex" and event == "PreToolUse":
            return "allow", None, None
        return None, None, "empty answer: the agent would fall back to its own prompt"
    try:
        answer = json.loads(text)
        specific = answer["hookSpecificOutput"]
    except (ValueError, KeyError, TypeError):
        return None, None, "not a hook answer: %r" % text[:200]
    if specific.get("hookEventName") != event:
        return None, None, "hookEventName %r for a %s hook" % (specific.get("hookEventName"), event)
    if event == "PreToolUse":
        decision = specific.get("permissionDecision")
        reason = specific.get("permissionDecisionReason")
        if decision == "allow" and agent == "codex":
            return None, reason, "Codex rejects permissionDecision allow at PreToolUse"
        if decision not in ("allow", "deny"):
            return None, reason, "permissionDecision %r" % decision
    else:
        inner = specific.get("decision") or {}
        decision = inner.get("behavior")
        reason = inner.get("message")
        if decision not in ("allow", "deny"):
            return None, reason, "decision.behavior %r" % decision
    if decision == "deny" and not (reason or "").strip():
        return None, reason, "deny without a reason"
    if decision == "deny" and (reason or "").startswith(TIMEOUT_PREFIX):
        return "timeout", reason, None
    return decision, reason, None


# ── operator bot ────────────────────────────────────────────────────────────────────────────


class OperatorBot(threading.Thread):
    """Decides the load's asks through `bosun approve/deny N` on the control socket, a short
    random while after it sees each one, whatever fault is going on."""

    def __init__(self, suite):
        super().__init__(daemon=True)
        self.suite = suite
        self.due = {}  # number -> (time, token, verdict)
        self.done = set()
        self.rng = random.Random("bot-%s" % suite.args.seed)

    def run(self):
        suite = self.suite
        while not suite.stop_bot.is_set():
            status, out, _ = suite.bosun("queue", "--json", timeout=4)
            if status == 0:
                for line in out.splitlines():
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    number = entry.get("number")
                    command = (entry.get("evidence") or {}).get("command") or ""
                    token = command.split()[-1] if command else ""
                    with suite.lock:
                        intent = suite.intents.get(token)
                    if intent and number not in self.due and number not in self.done:
                        self.due[number] = (time.monotonic() + self.rng.uniform(*suite.args.bot_delay), token, intent)
            for number, (when, token, intent) in sorted(self.due.items()):
                if when > time.monotonic() or suite.stop_bot.is_set():
                    continue
                self.vote(number, token, intent)
            suite.stop_bot.wait(0.4)

    def vote(self, number, token, intent):
        suite = self.suite
        start = suite.now()
        if intent == "approve":
            status, out, err = suite.bosun("approve", str(number), "fault-suite", "bot", "ok", timeout=8)
        else:
            status, out, err = suite.bosun("deny", str(number), "fault", "suite", "bot", "says", "no", timeout=8)
        record = {"number": number, "token": token, "vote": intent, "start": start, "end": suite.now(),
                  "status": status, "stdout": out.strip(), "stderr": err.strip()}
        with suite.lock:
            suite.votes.append(record)
        if status in (None, 69):  # bosund unreachable or frozen: the operator tries again
            self.due[number] = (time.monotonic() + 1.0, token, intent)
            return
        self.due.pop(number, None)
        self.done.add(number)


# ── faults ──────────────────────────────────────────────────────────────────────────────────


class Faults:
    def __init__(self, suite):
        self.suite = suite
        self.args = suite.args
        self.turn = 0

    def host(self):
        hosts = self.suite.fleet.hosts
        self.turn += 1
        return hosts[self.turn % len(hosts)]

    def inject(self, name):
        suite = self.suite
        record = {"name": name, "host": None, "start": suite.now(), "end": None, "evidence": [], "shown": False,
                  "recovered": False, "problems": []}
        suite.faults.append(record)
        suite.note("── fault %s" % name)
        try:
            getattr(self, name.replace("-", "_"))(record)
        except Interrupted:
            raise
        except Exception as error:
            record["problems"].append("the suite could not inject it: %s" % error)
            suite.note("fault %s: %s\n%s" % (name, error, traceback.format_exc()))
        suite.daemon.restart_if_crashed()
        record["end"] = suite.now()
        recovered = suite.wait_for("recovered", suite.all_hosts_up, self.args.recover_timeout)
        record["recovered"] = bool(recovered)
        # Hosts stay cut off until their links are up again, not only until the fault is undone
        # (a restarted bosund must first be reconnected to and told what hosts answered meanwhile).
        record["recovered_at"] = suite.now()
        if not recovered:
            hosts = suite.hosts_json() or {}
            record["problems"].append("not every host was up %ds after the fault: %s" % (
                self.args.recover_timeout,
                ", ".join("%s=%s (%s)" % (n, h.get("state"), h.get("reason")) for n, h in sorted(hosts.items())
                          if h.get("state") != "up") or "bosund did not answer"))
        for line in record["evidence"]:
            suite.note("   · " + line)
        for line in record["problems"]:
            suite.note("   PROBLEM: " + line)
        suite.note("   recovered: %s" % ("yes" if recovered else "NO"))
        time.sleep(self.args.settle)

    def show(self, record, text):
        record["evidence"].append(text)
        record["shown"] = True

    def evidence(self, record, text):
        record["evidence"].append(text)

    def host_state(self, name):
        hosts = self.suite.hosts_json(timeout=3) or {}
        return hosts.get(name)

    # kill -9 bosund, then start it again
    def kill_bosund(self, record):
        suite = self.suite
        old = suite.daemon.pid
        status = suite.daemon.kill()
        self.evidence(record, "bosund pid %d killed with SIGKILL: exit status %s (-9 = killed by signal 9)"
                      % (old, status))
        time.sleep(self.args.down_seconds)
        new = suite.daemon.start()
        if new != old and status == -signal.SIGKILL:
            self.show(record, "bosund pid changed %d -> %d and the new one answers on the socket" % (old, new))

    # SIGSTOP bosund longer than the hook deadline, then SIGCONT
    def stop_bosund(self, record):
        suite = self.suite
        pid = suite.daemon.pid
        hold = self.args.stop_seconds
        os.kill(pid, signal.SIGSTOP)
        try:
            # Every thread stops soon after the signal; /proc shows the main thread's state.
            state = suite.wait_for("stopped", lambda: process_state(pid) == "T", 3, 0.02) and "T"
            status, _, _ = suite.bosun("version", timeout=3)
            if state == "T":
                self.show(record, "bosund pid %d in state T (stopped) per /proc/%d/stat; `bosun version` %s"
                          % (pid, pid, "did not answer in 3 s" if status is None else "exited %s" % status))
            else:
                record["problems"].append("bosund pid %d not seen stopped (state %s)" % (pid, process_state(pid)))
            time.sleep(max(0, hold - 3))
        finally:
            os.kill(pid, signal.SIGCONT)
        self.evidence(record, "SIGCONT after %ds; state now %s; `bosun version` exit %s"
                      % (hold, process_state(pid), suite.bosun("version", timeout=10)[0]))

    # kill -9 the host's `bosun-host serve`, found by its link marker and /proc
    def kill_serve(self, record):
        suite = self.suite
        host = self.host()
        record["host"] = host.name
        pid = host.serve_pid()
        if pid is None:
            raise RuntimeError("%s has no serve process holding the link" % host.name)
        argv = " ".join(cmdline(pid))
        os.kill(pid, signal.SIGKILL)
        gone = suite.wait_for("serve gone", lambda: not alive(pid), 5, 0.05)
        self.evidence(record, "%s: serve pid %d (%s) in namespace %s killed with SIGKILL; gone: %s"
                      % (host.name, pid, argv, host.namespace, bool(gone)))
        new = suite.wait_for("new serve", lambda: (lambda p: p if p and p != pid else None)(host.serve_pid()),
                             self.args.recover_timeout)
        if gone and new:
            self.show(record, "%s: a new serve pid %d holds the link (was %d)" % (host.name, new, pid))
        time.sleep(self.args.short_hold)

    # ip link set down, hold, up
    def link_down(self, record):
        suite = self.suite
        host = self.host()
        record["host"] = host.name
        run(["ip", "link", "set", host.root_link, "down"])
        try:
            self.evidence(record, "%s: `ip link set %s down`" % (host.name, host.root_link))
            start = time.monotonic()
            seen = suite.wait_for("link seen down", lambda: (lambda h: h if h and h.get("state") != "up" else None)(
                self.host_state(host.name)), self.args.link_seconds)
            if seen:
                self.show(record, "%s seen %s in `bosun hosts --json` after %.1fs (reason: %s)"
                          % (host.name, seen.get("state"), time.monotonic() - start, seen.get("reason")))
            time.sleep(max(0, self.args.link_seconds - (time.monotonic() - start)))
        finally:
            run(["ip", "link", "set", host.root_link, "up"])
        self.evidence(record, "%s: link up again after %ds" % (host.name, self.args.link_seconds))

    # 200 ms delay and 5 % loss
    def delay_loss(self, record):
        suite = self.suite
        host = self.host()
        record["host"] = host.name
        before = connect_times(host.address)
        netem = run(["tc", "qdisc", "add", "dev", host.root_link, "root", "netem", "delay", "200ms", "loss", "5%"],
                    check=False)
        undo = []
        if netem.returncode == 0:
            self.evidence(record, "%s: tc netem delay 200ms loss 5%% on %s" % (host.name, host.root_link))
            undo.append(lambda: run(["tc", "qdisc", "del", "dev", host.root_link, "root"], check=False))
        else:
            # This kernel has no sch_netem: the same fault from netfilter, inside the host's namespace.
            if shutil.which("iptables") is None:
                raise RuntimeError("no netem (%s) and no iptables for the stand-in" % netem.stderr.strip())
            queue = 7
            ns = ["ip", "netns", "exec", host.namespace]
            delayer = subprocess.Popen(ns + [sys.executable, NFQ_DELAY, str(queue), "200"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

            def stop_delayer():
                if delayer.returncode is not None:
                    return
                counters = run(ns + ["iptables", "-L", "OUTPUT", "-v", "-n", "-x"], check=False).stdout
                packets = [line.split()[:3] for line in counters.splitlines()[2:] if line.strip()]
                if packets:
                    self.evidence(record, "iptables OUTPUT counters (pkts bytes target): %s"
                                  % "; ".join(" ".join(p) for p in packets))
                run(ns + ["iptables", "-F", "OUTPUT"], check=False)
                delayer.terminate()
                try:
                    delayer.wait(5)
                except subprocess.TimeoutExpired:
                    delayer.kill()
                    delayer.wait()

            undo.append(stop_delayer)
            suite.cleanup("stop the delay stand-in of " + host.name, stop_delayer)
            if delayer.stdout.readline().strip() != "ready":
                raise RuntimeError("nfq_delay did not start: %s" % delayer.stderr.read()[-500:])
            run(ns + ["iptables", "-A", "OUTPUT", "-o", host.host_link, "-m", "statistic", "--mode", "random",
                      "--probability", "0.05", "-j", "DROP"])
            run(ns + ["iptables", "-A", "OUTPUT", "-o", host.host_link, "-j", "NFQUEUE", "--queue-num", str(queue)])
            self.evidence(record, "%s: kernel has no netem (`tc` said: %s); stand-in inside %s: iptables OUTPUT -o %s "
                          "statistic 5%% DROP + NFQUEUE to nfq_delay.py holding each packet 200 ms"
                          % (host.name, netem.stderr.strip(), host.namespace, host.host_link))
        try:
            during = connect_times(host.address)
            self.evidence(record, "TCP connect to %s:22: median %.0f ms before, %.0f ms with the fault"
                          % (host.address, median(before), median(during)))
            if median(during) >= 180:
                self.show(record, "%s: round trip to %s:22 now %.0f ms (was %.0f ms)"
                          % (host.name, host.address, median(during), median(before)))
            time.sleep(self.args.delay_seconds / 2)
            state = self.host_state(host.name) or {}
            self.evidence(record, "%s in `bosun hosts`: state %s, rtt_ms %s" % (host.name, state.get("state"),
                                                                              state.get("rtt_ms")))
            time.sleep(self.args.delay_seconds / 2)
        finally:
            for function in undo:
                function()
        self.evidence(record, "removed; TCP connect median %.0f ms" % median(connect_times(host.address)))

    # restart the host's listening sshd (live sessions keep running, as with `systemctl restart ssh`)
    def restart_sshd(self, record):
        host = self.host()
        record["host"] = host.name
        serve = host.serve_pid()
        old = host.stop_sshd(sessions=False)
        new = host.start_sshd()
        if old != new and alive(new):
            self.show(record, "%s: sshd pid %d -> %d, listening on %s:22" % (host.name, old, new, host.address))
        time.sleep(self.args.short_hold)
        self.evidence(record, "%s: the serve of the live session (pid %s) %s" % (
            host.name, serve, "still holds the link" if serve and host.serve_pid() == serve else
            "was replaced by pid %s" % host.serve_pid()))

    # a new host key: the supervisor must refuse the host and say why; then the old key returns
    def host_key(self, record):
        suite = self.suite
        host = self.host()
        record["host"] = host.name
        saved = {}
        for suffix in ("", ".pub"):
            with open(host.host_key + suffix, "rb") as f:
                saved[suffix] = f.read()
        old_fp = host.fingerprint()
        try:
            host.stop_sshd(sessions=True)
            host.new_host_key()
            new_fp = host.fingerprint()
            host.start_sshd()
            self.evidence(record, "%s: host key %s -> %s; sshd restarted and its sessions ended"
                          % (host.name, old_fp, new_fp))
            seen = suite.wait_for("refused", lambda: (lambda h: h if h and h.get("state") == "refused" else None)(
                self.host_state(host.name)), self.args.recover_timeout)
            if seen:
                self.show(record, "%s refused in `bosun hosts --json`: %s" % (host.name, seen.get("reason")))
                if "changed" not in (seen.get("reason") or "").lower():
                    record["problems"].append("the reason does not say the key changed: %r" % seen.get("reason"))
            else:
                record["problems"].append("%s never shown refused: %s" % (host.name, self.host_state(host.name)))
            time.sleep(self.args.short_hold)
            state = self.host_state(host.name) or {}
            if state.get("state") == "up":
                record["problems"].append("%s is UP with the changed key" % host.name)
        finally:
            host.stop_sshd(sessions=True)
            for suffix, data in saved.items():
                with open(host.host_key + suffix, "wb") as f:
                    f.write(data)
            os.chmod(host.host_key, 0o600)
            host.start_sshd()
        self.evidence(record, "%s: original key %s restored" % (host.name, old_fp))

    # the state directory's filesystem full
    def disk_full(self, record):
        suite = self.suite
        fill = os.path.join(suite.state_dir, "fill")
        suite.cleanup("remove the disk-full filler", lambda: os.path.exists(fill) and os.unlink(fill))
        written = 0
        fd = os.open(fill, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for chunk in (1 << 20, 1 << 16, 1 << 12):
                block = b"\0" * chunk
                while True:
                    try:
                        written += os.write(fd, block)
                    except OSError:
                        break
        finally:
            os.close(fd)
        stat = os.statvfs(suite.state_dir)
        free = stat.f_bavail * stat.f_frsize
        self.evidence(record, "filled %s with %d bytes" % (suite.state_dir, written))
        if free < 64 * 1024:
            self.show(record, "state_dir filesystem full: %d bytes free of %d (statvfs)"
                      % (free, stat.f_blocks * stat.f_frsize))
        try:
            # SQLite keeps writing into WAL space it already has, so the daemon may not hit the full
            # disk at once: hold until its log says so (or twice the hold), then the hold itself.
            log_offset = os.path.getsize(suite.daemon.log_path)
            start = time.monotonic()

            def noticed():
                with open(suite.daemon.log_path, errors="replace") as f:
                    f.seek(log_offset)
                    for line in f:
                        if re.search(r"disk|full|space", line, re.I):
                            return line.strip()
                return None

            line = suite.wait_for("bosund notices", noticed, self.args.full_seconds * 2, 0.5)
            if line:
                self.evidence(record, "bosund's log after %.1fs: %s" % (time.monotonic() - start, line[:220]))
            else:
                self.evidence(record, "bosund's log said nothing about the disk in %ds (its writes still fit in "
                                      "space SQLite had)" % (self.args.full_seconds * 2))
            time.sleep(self.args.full_seconds / 2)
            # What an operator sees meanwhile (issue 7 asks for the condition in `hosts` and the log).
            hosts = suite.hosts_json() or {}
            said = sorted("%s: %s" % (n, h.get("reason")) for n, h in hosts.items()
                          if re.search(r"disk|full|space|stor", h.get("reason") or "", re.I))
            self.evidence(record, "`bosun hosts` meanwhile: %s" % ("; ".join(said)[:300] if said else
                                                                  "no host's reason mentions the disk"))
            time.sleep(self.args.full_seconds / 2)
        finally:
            os.unlink(fill)
        stat = os.statvfs(suite.state_dir)
        self.evidence(record, "filler removed after %.0fs: %d bytes free" % (
            time.monotonic() - start, stat.f_bavail * stat.f_frsize))


def connect_times(address, count=5):
    import socket

    times = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(5)
        start = time.monotonic()
        try:
            sock.connect((address, 22))
            times.append((time.monotonic() - start) * 1000)
        except OSError:
            times.append(5000.0)
        finally:
            sock.close()
    return times


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


# ── invariants ──────────────────────────────────────────────────────────────────────────────

from invariants import check_invariants, summary  # noqa: E402

Suite.check_invariants = check_invariants
Suite.summary = summary


# ── command line ────────────────────────────────────────────────────────────────────────────


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="scripts/fault-suite",
        description="Bosun's fault suite: real sshd hosts in network namespaces, real bosund, approval load "
                    "through bosun-host hook, faults injected while it runs, invariants checked at the end. "
                    "Needs root (namespaces, veth, tmpfs). Exit 0 only if every invariant holds.")
    parser.add_argument("--quick", action="store_true", help="4 hosts, 5 faults, shorter holds (~2 min)")
    parser.add_argument("--hosts", type=int, help="number of hosts (default 10; --quick 4)")
    parser.add_argument("--duration", type=float, help="minimum seconds of load (default 240; --quick 90)")
    parser.add_argument("--faults", help="comma-separated, in order (default all: %s)" % ",".join(ALL_FAULTS))
    parser.add_argument("--workers", type=int, default=1, help="concurrent hooks per host (default 1)")
    parser.add_argument("--deadline", type=float, help="BOSUN_HOOK_DEADLINE of every hook (default 20)")
    parser.add_argument("--grace", type=float, default=2, help="BOSUN_HOOK_UNREACHABLE_GRACE (default 2)")
    parser.add_argument("--keepalive-interval", type=float, default=2)
    parser.add_argument("--keepalive-timeout", type=float, default=6)
    parser.add_argument("--stop-seconds", type=float,
                        help="how long bosund stays SIGSTOPped (default: max(2 x keepalive timeout, deadline + 4), "
                             "longer than a hook's deadline so a hook that waits on a frozen supervisor shows)")
    parser.add_argument("--state-mb", type=int, default=64, help="size of the state_dir tmpfs (default 64)")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--bin-dir", default=os.environ.get("BOSUN_BIN_DIR") or os.path.join(REPO, ".build", "debug"),
                        help="where bosund, bosun and bosun-host are (default $BOSUN_BIN_DIR, else .build/debug)")
    parser.add_argument("--artifacts", default=os.path.join(REPO, ".build", "fault-suite"),
                        help="where the run's logs and report are copied (default .build/fault-suite)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory under /tmp")
    parser.add_argument("--keep-inotify-limit", action="store_true",
                        help="do not raise fs.inotify.max_user_instances even if the run needs more")
    args = parser.parse_args(argv)
    args.hosts = args.hosts or (4 if args.quick else 10)
    args.duration = args.duration if args.duration is not None else (90 if args.quick else 240)
    # The same in quick mode: a hook asked just before a freeze is answered by its host's fallback
    # only after serve's silence timeout (8 s) and grace (2 s), so a 12 s deadline left no margin.
    args.deadline = args.deadline or 20
    args.faults = [f.strip() for f in args.faults.split(",") if f.strip()] if args.faults else (
        QUICK_FAULTS if args.quick else ALL_FAULTS)
    unknown = [f for f in args.faults if f not in ALL_FAULTS]
    if unknown:
        parser.error("unknown fault(s): %s (known: %s)" % (", ".join(unknown), ", ".join(ALL_FAULTS)))
    if args.hosts < 1 or args.hosts > 250:
        parser.error("--hosts must be 1..250")
    long_hold = args.deadline + 4
    args.stop_seconds = args.stop_seconds or max(2 * args.keepalive_timeout, long_hold)
    args.link_seconds = long_hold
    args.full_seconds = long_hold
    args.delay_seconds = 16 if not args.quick else 10
    args.short_hold = 6 if not args.quick else 4
    args.down_seconds = 3
    args.settle = 4 if not args.quick else 3
    args.warmup = 12 if not args.quick else 8
    args.recover_timeout = 40
    args.pause = (0.2, 0.8)
    args.bot_delay = (0.3, 2.5)
    args.answer_slack = 2.0
    return args


def main(argv):
    args = parse(argv)
    if os.geteuid() != 0:
        print("fault-suite: needs root (network namespaces, veth links, a tmpfs mount)", file=sys.stderr)
        return 2
    suite = Suite(args)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, on_signal)
    ok = False
    try:
        ok = suite.execute()
    except Interrupted as stop:
        print("fault-suite: interrupted (%s); cleaning up" % stop, file=sys.stderr, flush=True)
        ok = False
    except Exception as error:
        print("fault-suite: ERROR: %s" % error, file=sys.stderr, flush=True)
        traceback.print_exc()
        ok = False
    finally:
        # No second interruption may leave namespaces or mounts behind.
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        suite.stop_load.set()
        suite.stop_bot.set()
        save_artifacts(suite)
        suite.undo_all()
    return 0 if ok else 1


def save_artifacts(suite):
    target = os.path.join(suite.args.artifacts, suite.run_id)
    try:
        os.makedirs(target, exist_ok=True)
        for name in ("bosund.log", "suite.log", "bosun-final.db"):
            path = os.path.join(suite.root, name)
            if os.path.exists(path):
                shutil.copy(path, target)
        with open(os.path.join(target, "hooks.jsonl"), "w") as f:
            for record in suite.hooks:
                f.write(json.dumps(record) + "\n")
        with open(os.path.join(target, "votes.jsonl"), "w") as f:
            for record in suite.votes:
                f.write(json.dumps(record) + "\n")
        with open(os.path.join(target, "faults.json"), "w") as f:
            json.dump({"faults": suite.faults, "bosund": suite.daemon.history if suite.daemon else [],
                       "results": suite.results}, f, indent=1)
        if suite.fleet:
            for host in suite.fleet.hosts:
                log = os.path.join(host.dir, "sshd.log")
                if os.path.exists(log):
                    shutil.copy(log, os.path.join(target, "sshd-%s.log" % host.name))
        latest = os.path.join(suite.args.artifacts, "latest")
        if os.path.islink(latest) or not os.path.exists(latest):
            if os.path.islink(latest):
                os.unlink(latest)
            os.symlink(suite.run_id, latest)
        print("fault-suite: logs and report in %s" % target, flush=True)
    except OSError as error:
        print("fault-suite: could not save artifacts: %s" % error, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
