#!/usr/bin/env python3
"""Two replicas on one PostgreSQL never accept the same nonce twice.

Starts a PostgreSQL 15 server in a temporary folder (loopback only), two
attest-verifierd replicas sharing it, issues nonces from replica A, makes one
valid report per nonce with ahv-reportgen, then submits every report to both
replicas at once, several times, from many threads. Exactly one submission
per nonce may be accepted; the audit log must agree."""
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, audit, check, log  # noqa: E402

env = Env("pg")
try:
    env.require_reportgen()
    url = env.start_postgres()
    hv, guest = env.genkey("hv.pem"), env.genkey("guest.pem")
    token = env.path("token.pem")
    env.cli_run("token-keygen", token)
    reg = env.write("region.bin", b"replicated region" * 64)
    policy = env.write("policy.json", json.dumps({"max_timestamp_skew_s": -1, "allow_unnamed_regions": True}))
    ca = env.config("replica-a", url, policy, token)
    cb = env.config("replica-b", url, policy, token)
    env.cli_run("init", "--config", ca)
    env.cli_run("enroll", "--config", ca, "--insecure-no-evidence", "hv", hv)
    env.cli_run("enroll", "--config", cb, "guest", guest)
    a, b = env.start(ca, "replica-a"), env.start(cb, "replica-b")
    st, h = a.request("GET", "/healthz")
    check(st == 200 and h["storage"] == "postgresql", "replica A healthy on postgresql: %s" % h)
    N = 150
    nonces = a.challenge(count=N // 2) + b.challenge(count=N - N // 2)  # both replicas issue
    reports = env.reportgen_many(hv, guest, nonces, [reg])
    lock = threading.Lock()
    results = {n: [] for n in nonces}
    barrier_tasks = []
    for rep in reports:
        for d in (a, b, a, b):
            barrier_tasks.append((d, rep))
    import random
    random.seed(7)
    random.shuffle(barrier_tasks)

    def go(task):
        d, rep = task
        st, j = d.submit(rep["request"], rep["report"])
        with lock:
            results[rep["nonce"]].append((d.name, st, j.get("error") if st != 200 else "ok", j.get("decision_id")))

    with ThreadPoolExecutor(max_workers=24) as ex:
        list(ex.map(go, barrier_tasks))
    accepted_by = {"replica-a": 0, "replica-b": 0}
    for n, rs in results.items():
        oks = [r for r in rs if r[2] == "ok"]
        check(len(oks) == 1, "nonce %s accepted %d times: %s" % (n, len(oks), rs))
        accepted_by[oks[0][0]] += 1
        others = [r for r in rs if r[2] != "ok"]
        check(all(r[1] == 403 and r[2] == "nonce_replayed" for r in others), "losers are replays: %s" % rs)
    log("accepted by replica: %s" % accepted_by)
    check(all(v > 0 for v in accepted_by.values()), "both replicas accepted some (real concurrency)")
    rows = audit(env, url)
    acc = {}
    for r in rows:
        if r["verdict"] == "accept":
            acc[r["nonce"]] = acc.get(r["nonce"], 0) + 1
    check(len(acc) == N and all(v == 1 for v in acc.values()), "audit: one accept per nonce")
    ids = {r["decision_id"] for r in rows}
    check(all(x[3] in ids for rs in results.values() for x in rs), "every answer is in the shared audit log")
    check({r["replica"] for r in rows} == {"replica-a", "replica-b"}, "both replicas wrote the audit log")
    # the audit log is append-only in PostgreSQL too
    r = env.run(["psql", url, "-c", "DELETE FROM audit"]) if os.path.exists("/usr/bin/psql") else None
    if r is not None:
        check(r.returncode != 0 and "append-only" in r.stderr, "DELETE on audit refused: %s" % r.stderr)
    log("PASS: %d nonces x 4 concurrent submissions over 2 replicas" % N)
finally:
    env.cleanup()
