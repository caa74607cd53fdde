"""The fault suite's end-of-run checks: each invariant prints one PASS/FAIL line with evidence."""

import collections
import json
import os
import re
import sqlite3

MAX_EVIDENCE = 8
FATAL = re.compile(
    r"Fatal error|fatalError|Precondition failed|Assertion failed|Illegal instruction|Segmentation fault|"
    r"Swift runtime failure|\bcritical\b|Current stack trace", re.I)


def told_class(verdict):
    return {"allow": "allow", "deny": "no", "timeout": "no"}.get(verdict)


def store_class(status):
    return {"allowed": "allow", "denied": "no", "expired": "no", "cancelled": "no"}.get(status)


def token_of(command):
    words = (command or "").split()
    return words[-1] if words else ""


def collect(suite):
    """What the hosts' spools and the supervisor's store say, after the run has quiesced."""
    data = {"spool": collections.defaultdict(list), "leftover": [], "store": collections.defaultdict(list),
            "by_number": {}, "outbox": [], "audit": [], "cli": {},
            "outbox_left": collections.defaultdict(list)}
    for host in suite.fleet.hosts:
        for directory in ("answered", "requests"):
            path = os.path.join(host.spool, directory)
            for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
                if not name.endswith(".json"):
                    continue
                try:
                    with open(os.path.join(path, name)) as f:
                        request = json.load(f)
                except (OSError, ValueError):
                    continue
                token = token_of((request.get("evidence") or {}).get("command"))
                data["spool"][(host.name, token)].append(request.get("id"))
                if directory == "requests":
                    data["leftover"].append("%s: requests/%s (%s) still waits in the spool" % (host.name, name, token))
        path = os.path.join(host.spool, "outbox")
        for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
            if name.endswith(".json"):
                data["outbox_left"][host.name].append(name)
                data["leftover"].append("%s: outbox/%s never acknowledged by the supervisor" % (host.name, name))
        path = os.path.join(host.spool, "decisions")
        for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
            data["leftover"].append("%s: decisions/%s was never taken by a hook" % (host.name, name))
    database = os.path.join(suite.state_dir, "bosun.db")
    connection = sqlite3.connect("file:%s?mode=ro" % database, uri=True, timeout=30)
    connection.row_factory = sqlite3.Row
    try:
        # A copy for the artifacts, so every line of evidence can be looked up afterwards.
        copy = sqlite3.connect(os.path.join(suite.root, "bosun-final.db"))
        connection.backup(copy)
        copy.close()
        for row in connection.execute("SELECT * FROM requests ORDER BY number"):
            record = dict(row)
            record["evidence"] = json.loads(record["evidence"] or "{}")
            record["decision"] = json.loads(record["decision"]) if record["decision"] else None
            data["store"][(record["host"], token_of(record["evidence"].get("command")))].append(record)
            data["by_number"][record["number"]] = record
        data["outbox"] = [dict(r) for r in connection.execute(
            "SELECT id, host, kind, message_id AS request_id, payload, created_at, delivered_at FROM outbox"
            " WHERE kind = 'decision'")]
        data["audit"] = [dict(r) for r in connection.execute("SELECT seq, at, actor, host, kind, details FROM audit")]
    finally:
        connection.close()
    status, out, err = suite.bosun("queue", "--all", "--json", timeout=120)
    data["cli_status"] = status
    for line in out.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        data["cli"][entry.get("number")] = entry
    return data


def during(suite, hook):
    names = []
    for fault in suite.faults:
        end = (fault["end"] if fault["end"] is not None else suite.now()) + suite.args.settle
        if hook["start"] <= end and hook["end"] >= fault["start"]:
            names.append(fault["name"] + ("@" + fault["host"] if fault["host"] else ""))
    return ",".join(names) or "no fault"


def describe(suite, hook):
    return "%s %s %s/%s %s [t=%.1f..%.1f, %.1fs, during %s]" % (
        hook["token"], hook["host"], hook["agent"], hook["event"], hook["kind"], hook["start"], hook["end"],
        hook["elapsed"], during(suite, hook))


def short(text, limit=160):
    text = (text or "").strip().replace("\n", " | ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_invariants(suite):
    args = suite.args
    hooks = list(suite.hooks)
    data = collect(suite)
    results = suite.results
    by_token = {hook["token"]: hook for hook in hooks}

    def report(name, failures, ok_text, extra=()):
        ok = not failures
        results.append((name, ok, failures[:MAX_EVIDENCE] + list(extra)))

    # 1. Every hook got exactly one answer, in its agent's shape, before its deadline.
    failures = []
    for hook in hooks:
        late = hook["elapsed"] > args.deadline + args.answer_slack
        if hook["problem"] or hook["status"] != 0 or late:
            failures.append("%s: exit %s, %s%s; stdout %r; stderr %r" % (
                describe(suite, hook), hook["status"], hook["problem"] or "valid answer",
                ", LATE (deadline %gs)" % args.deadline if late else "", short(hook["stdout"], 120),
                short(hook["stderr"], 200)))
    results.append(("every hook got exactly one valid answer before its deadline (exit 0, agent's shape, "
                    "<= deadline + %gs)" % args.answer_slack, not failures,
                    ["%d of %d hooks failed" % (len(failures), len(hooks))] + failures[:MAX_EVIDENCE]
                    if failures else ["%d hooks, all answered in shape, slowest %.1fs" % (
                        len(hooks), max([h["elapsed"] for h in hooks] or [0]))]))

    # 2. Every request has exactly one final state in the store, equal to what the agent was told.
    failures = []
    notes = collections.Counter()
    examples = {}
    for hook in hooks:
        key = (hook["host"], hook["token"])
        spool_ids = data["spool"].get(key, [])
        rows = data["store"].get(key, [])
        problem = None
        if len(spool_ids) != 1:
            problem = "the host spool holds %d requests for it" % len(spool_ids)
        elif len(rows) != 1:
            problem = "the store holds %d records for it" % len(rows)
            unacked = [n for n in data["outbox_left"].get(hook["host"], []) if spool_ids[0] in n]
            if unacked:
                problem += "; the host's answer (outbox/%s) was never acknowledged" % unacked[0]
        else:
            row = rows[0]
            cli = data["cli"].get(row["number"], {})
            if row["id"] != spool_ids[0]:
                problem = "store id %s, spool id %s" % (row["id"], spool_ids[0])
            elif row["status"] == "pending":
                problem = "#%d still PENDING in the store (queue shows %s) although the agent was told %s (%s)" % (
                    row["number"], cli.get("status"), hook["verdict"], short(hook["reason"], 100))
            elif hook["verdict"] and told_class(hook["verdict"]) != store_class(row["status"]):
                problem = "#%d is %s in the store (by %s%s) but the agent was told %s (%s)" % (
                    row["number"], row["status"], row["decided_by"], ", local" if row["local"] else "",
                    hook["verdict"], short(hook["reason"], 100))
            elif cli and cli.get("status") != row["status"]:
                problem = "#%d: `bosun queue --all` says %s, the database %s" % (
                    row["number"], cli.get("status"), row["status"])
            elif hook["verdict"]:
                told, stored = hook["verdict"], row["status"]
                if (told, stored) not in (("allow", "allowed"), ("deny", "denied"), ("timeout", "expired")):
                    notes["told %s, stored %s" % (told, stored)] += 1
                    examples.setdefault("told %s, stored %s" % (told, stored), []).append(
                        "#%d %s by %s" % (row["number"], hook["token"], row["decided_by"]))
        if problem:
            failures.append("%s: %s" % (describe(suite, hook), problem))
    extra = ["same class, other word: %s" % ", ".join("%s x%d (e.g. %s)" % (k, v, ", ".join(examples[k][:3]))
                                                       for k, v in sorted(notes.items()))] if notes else []
    results.append(("every request has exactly one final state in the store, equal to what the agent was told",
                    not failures, (["%d of %d requests" % (len(failures), len(hooks))] + failures[:MAX_EVIDENCE]
                                   if failures else ["%d requests matched (store read read-only from %s)"
                                                     % (len(hooks), "bosun.db")]) + extra))

    # 3. No decision delivered twice (store outbox + audit; host spool).
    failures = []
    delivered = collections.defaultdict(list)
    for row in data["outbox"]:
        if row["delivered_at"] is not None:
            delivered[(row["host"], row["request_id"])].append(row)
    for (host, request_id), rows in sorted(delivered.items()):
        if len(rows) > 1:
            verdicts = [json.loads(r["payload"]).get("verdict") for r in rows]
            failures.append("%s request %s: %d decisions delivered (outbox ids %s, verdicts %s)" % (
                host, request_id, len(rows), ",".join(str(r["id"]) for r in rows), ",".join(verdicts)))
    decided = collections.defaultdict(list)
    for entry in data["audit"]:
        if entry["kind"] in ("decision", "expiry"):
            details = json.loads(entry["details"])
            decided[details.get("request")].append("%s %s by %s" % (entry["kind"], details.get("verdict"),
                                                                    entry["actor"]))
    for number, entries in sorted(decided.items(), key=lambda kv: kv[0] or 0):
        if len(entries) > 1:
            failures.append("#%s decided %d times in the audit log: %s" % (number, len(entries), "; ".join(entries)))
    failures += data["leftover"]
    results.append(("no decision delivered twice, nothing left undelivered (store outbox and audit: one per request; "
                    "host spools: no request, decision or report left behind)",
                    not failures, failures[:MAX_EVIDENCE] if failures else [
                        "%d decisions delivered, each once; spools clean" % len(delivered)]))

    # 4. Operator decisions made during faults all arrived. A decision accepted while the agent already
    # had its answer is a failure (the operator was told it counted); one accepted just before the host
    # was cut off (link down, host key refused, bosund frozen or killed) for longer than the agent's deadline cannot
    # arrive: it is listed, and invariant 2 checks that the store then says what the agent was told.
    failures = []
    cut_off = []
    accepted = [v for v in suite.votes if v["status"] == 0]
    for vote in accepted:
        hook = by_token.get(vote["token"])
        want = "allow" if vote["vote"] == "approve" else "deny"
        if hook is None:
            failures.append("vote %s #%d (%s): no hook for it" % (vote["vote"], vote["number"], vote["token"]))
            continue
        if hook["verdict"] == want:
            continue
        text = "`bosun %s %d` exited 0 at t=%.1f (%s) but the agent was told %s at t=%.1f: %s — %s" % (
            vote["vote"], vote["number"], vote["start"], short(vote["stdout"], 60), hook["verdict"], hook["end"],
            short(hook["reason"], 110), describe(suite, hook))
        # bosund frozen or killed cuts every host off; the other faults cut off their own host.
        blocking = [f for f in suite.faults if f["name"] in ("stop-bosund", "kill-bosund") or (
            f["name"] in ("link-down", "host-key", "delay-loss") and f["host"] == hook["host"])]
        # A host is cut off from the fault's start until every host is up again after it.
        overlaps = any(f["start"] - 1 <= hook["end"] and (f.get("recovered_at") or f["end"] or suite.now())
                       >= vote["start"] for f in blocking)
        # The host fell back on its own ("supervisor unreachable") while it was cut off: bosund could
        # not know the agent had its answer; the host's report corrects the store on reconnect
        # (invariant 2 checks that). Any other vote after the answer is a failure.
        fell_back = "supervisor unreachable" in (hook["reason"] or "")
        if hook["end"] <= vote["start"] and not (fell_back and overlaps):
            failures.append("AFTER the agent had its answer: " + text)
            continue
        if overlaps:
            cut_off.append(text)
        else:
            failures.append("not delivered although the host was reachable: " + text)
    refused = collections.Counter(short(v["stderr"] or v["stdout"], 70) for v in suite.votes if v["status"] not in (0,))
    extra = ["cut off until the deadline (cannot arrive; see invariant 2): " + t for t in cut_off[:4]]
    extra += ["votes refused or unreachable: " + "; ".join("%s x%d" % kv for kv in refused.most_common(4))] \
        if refused else []
    results.append(("operator decisions made during faults all arrived (an approved hook got allow, a denied one deny)",
                    not failures, (["%d of %d accepted votes" % (len(failures), len(accepted))] + failures[:MAX_EVIDENCE]
                                   if failures else ["%d accepted votes reached their agent%s" % (
                                       len(accepted) - len(cut_off),
                                       ", %d more could not (host cut off)" % len(cut_off) if cut_off else "")])
                    + extra))

    # 5. bosun audit verify.
    status, out, err = suite.bosun("audit", "verify", timeout=120)
    results.append(("`bosun audit verify` passes", status == 0, [short(out + err, 200)]))

    # 6. bosund never crashed except where the suite killed it.
    failures = []
    history = suite.daemon.history
    for entry in history:
        if entry["ended"] is not None and not entry["expected"]:
            failures.append("bosund pid %d exited on its own at t=%.1f with status %s (the suite did not kill it)" % (
                entry["pid"], entry["ended"], entry["status"]))
    if suite.daemon.process is None or suite.daemon.process.poll() is not None:
        failures.append("bosund is not running at the end")
    fatal = []
    try:
        with open(suite.daemon.log_path, errors="replace") as f:
            for number, line in enumerate(f, 1):
                if FATAL.search(line):
                    fatal.append("bosund.log:%d: %s" % (number, short(line, 200)))
    except OSError as error:
        fatal.append("cannot read bosund.log: %s" % error)
    failures += fatal
    pids = " -> ".join("%d%s" % (e["pid"], "" if e["ended"] is None else " (%s%s)" % (
        "killed by the suite" if e["expected"] else "EXITED", "" if e["status"] is None else " %s" % e["status"]))
        for e in history)
    results.append(("bosund never crashed except where the suite killed it (PID changes only at the suite's kills; "
                    "no fatal error in its log)", not failures, failures[:MAX_EVIDENCE] + ["pids: " + pids]))

    # 6b (beyond the list). bosund does not spin: no log message repeated more than 20 times in a second
    # (a retry loop without a pause burns a core and buries the log).
    bursts = collections.Counter()
    line_pattern = re.compile(r"^(\S+) (\w+) bosund: .*?(?:\] )?([^\]]*)$")
    try:
        with open(suite.daemon.log_path, errors="replace") as f:
            for line in f:
                match = line_pattern.match(line.rstrip("\n"))
                if match:
                    bursts[(match.group(1), match.group(2), match.group(3).strip())] += 1
    except OSError:
        pass
    worst = collections.defaultdict(lambda: (0, ""))
    totals = collections.Counter()
    for (second, level, message), count in bursts.items():
        totals[(level, message)] += count
        if count > worst[(level, message)][0]:
            worst[(level, message)] = (count, second)
    spinning = sorted(((count, second, level, message) for (level, message), (count, second) in worst.items()
                       if count > 20), reverse=True)
    results.append(("bosund does not spin on a fault (no log message more than 20 times in one second)", not spinning,
                    ["'%s %s' %d times in the second %s (%d in all)" % (level, message, count, second,
                                                                       totals[(level, message)])
                     for count, second, level, message in spinning[:MAX_EVIDENCE]]
                    or ["busiest message: %d in one second" % max([c for c, _ in worst.values()] or [0])]))

    # 7 (beyond the list). Fail closed: nothing allowed that neither the policy nor a person allowed.
    failures = []
    approved = {v["token"] for v in accepted if v["vote"] == "approve"}
    for hook in hooks:
        if hook["verdict"] != "allow":
            continue
        if hook["kind"] == "deny":
            failures.append("%s: a policy-denied command was ALLOWED (%s)" % (describe(suite, hook),
                                                                          short(hook["reason"], 100)))
        elif hook["kind"].startswith("ask") and hook["token"] not in approved:
            failures.append("%s: an ask was ALLOWED without an operator's approval (%s)" % (
                describe(suite, hook), short(hook["reason"], 100)))
    results.append(("fail closed: no policy-denied command and no unapproved ask was ever allowed", not failures,
                    failures[:MAX_EVIDENCE] or ["%d allows, each by policy or an accepted approval" % sum(
                        1 for h in hooks if h["verdict"] == "allow")]))

    # 8 (beyond the list). No hook waited out its deadline: a supervisor that is frozen, cut off or
    # out of disk must be noticed (the hook falls back within its grace, or is refused at once).
    # Exempt: an ask waiting for a person while the disk is full (queued before, or stored into
    # space SQLite still had). The person's vote cannot be stored either, so that ask rightly ends
    # as a timeout (reported as one, never as a denial). New asks the store refuses are denied at once.
    def waited_for_a_person_through_disk_full(hook):
        return hook["kind"].startswith("ask") and any(
            fault["name"] == "disk-full" and hook["start"] <= (fault["end"] or suite.now()) and hook["end"] >= fault["start"]
            for fault in suite.faults)

    timeouts = [h for h in hooks if h["verdict"] == "timeout" and not waited_for_a_person_through_disk_full(h)]
    by_fault = collections.Counter(during(suite, h) for h in timeouts)
    failures = ["%d timed out during %s" % (count, name) for name, count in by_fault.most_common()]
    failures += ["%s: %s" % (describe(suite, h), short(h["reason"], 90)) for h in timeouts[:4]]
    results.append(("no hook waited out its deadline (%gs): every fault is noticed and answered sooner"
                    % args.deadline, not timeouts, failures or ["0 of %d hooks timed out" % len(hooks)]))

    # 9. Every fault was shown to have happened, and the fleet recovered after it.
    failures = []
    for fault in suite.faults:
        label = fault["name"] + ("@" + fault["host"] if fault["host"] else "")
        if not fault["shown"]:
            failures.append("%s: not shown to have happened (%s)" % (label, "; ".join(fault["evidence"]) or "-"))
        for problem in fault["problems"]:
            failures.append("%s: %s" % (label, problem))
    results.append(("every fault shown to have happened, and every host up again after it", not failures,
                    failures or ["%d faults shown and recovered from" % len(suite.faults)]))

    print("\n==> invariants", flush=True)
    for name, ok, evidence in results:
        print("%s  %s" % ("PASS" if ok else "FAIL", name), flush=True)
        for line in evidence:
            print("      " + line, flush=True)
    if suite.log_file:
        for name, ok, evidence in results:
            suite.log_file.write("%s  %s\n" % ("PASS" if ok else "FAIL", name))
            for line in evidence:
                suite.log_file.write("      %s\n" % line)


def summary(suite, runtime):
    hooks = suite.hooks
    verdicts = collections.Counter(h["verdict"] or "invalid" for h in hooks)
    kinds = collections.Counter(h["kind"] for h in hooks)
    shapes = collections.Counter("%s/%s" % (h["agent"], h["event"]) for h in hooks)

    def percentile(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0

    lines = ["\n==> summary",
             "runtime: %.0f s (%d hosts, %d worker(s) each, deadline %gs, grace %gs, keepalive %g/%gs)" % (
                 runtime, len(suite.fleet.hosts), suite.args.workers, suite.args.deadline, suite.args.grace,
                 suite.args.keepalive_interval, suite.args.keepalive_timeout),
             "requests issued: %d (%s); shapes: %s" % (
                 len(hooks), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
                 ", ".join("%s %d" % kv for kv in sorted(shapes.items()))),
             "answers: %s" % ", ".join("%s %d" % kv for kv in sorted(verdicts.items()))]
    for kind in sorted(kinds):
        values = [h["elapsed"] for h in hooks if h["kind"] == kind]
        lines.append("  %-12s answer time p50 %.2fs  p95 %.2fs  max %.2fs" % (
            kind, percentile(values, 0.5), percentile(values, 0.95), max(values)))
    votes = suite.votes
    lines.append("operator bot: %d votes, %d accepted" % (len(votes), sum(1 for v in votes if v["status"] == 0)))
    lines.append("faults shown to have happened: %d of %d" % (sum(1 for f in suite.faults if f["shown"]),
                                                              len(suite.faults)))
    for fault in suite.faults:
        lines.append("  %-13s %-4s t=%5.0f..%5.0f  %s: %s" % (
            fault["name"], fault["host"] or "", fault["start"], fault["end"] or 0,
            "SHOWN" if fault["shown"] else "NOT SHOWN",
            "; ".join(e for e in fault["evidence"])[:400]))
    for note in suite.notes:
        lines.append("note: " + note)
    failed = [name for name, ok, _ in suite.results if not ok]
    lines.append("%d passed, %d failed" % (len(suite.results) - len(failed), len(failed)))
    for line in lines:
        print(line, flush=True)
        if suite.log_file:
            suite.log_file.write(line + "\n")
