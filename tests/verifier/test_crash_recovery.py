#!/usr/bin/env python3
"""kill -9 under load, restart: no acknowledged decision is missing.

Many client threads submit a mix of valid reports (from ahv-reportgen) and
invalid submissions; every answer carries a decision id. While they run the
service gets SIGKILL. After a restart on the same SQLite file every answered
decision must be in the audit log with the verdict the client saw, and no
nonce accepted before the crash can be accepted again."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, audit, check, log  # noqa: E402

env = Env("crash")
try:
    env.require_reportgen()
    hv, guest = env.genkey("hv.pem"), env.genkey("guest.pem")
    token = env.path("token.pem")
    env.cli_run("token-keygen", token)
    reg = env.write("region.bin", b"crash region" * 100)
    policy = env.write("policy.json", json.dumps({"max_timestamp_skew_s": -1, "allow_unnamed_regions": True}))
    db = "sqlite:" + env.path("verifier.db")
    conf = env.config("crash", db, policy, token)
    env.cli_run("enroll", "--config", conf, "--insecure-no-evidence", "hv", hv)
    env.cli_run("enroll", "--config", conf, "guest", guest)
    d = env.start(conf, "crash")
    N = 400
    nonces = d.challenge(count=N)
    reports = env.reportgen_many(hv, guest, nonces, [reg])
    acked = {}  # decision_id -> (verdict, code, nonce)
    lock = threading.Lock()
    stop = threading.Event()
    idx = [0]
    errors = [0]

    def worker(k):
        while not stop.is_set():
            with lock:
                i = idx[0]
                idx[0] += 1
            if i >= len(reports) * 2:
                return
            rep = reports[i // 2]
            try:
                if i % 2 == 0:
                    st, j = d.submit(rep["request"], rep["report"])
                else:
                    st, j = d.submit(None, None, raw='{"report": "bad"}')
            except Exception:
                with lock:
                    errors[0] += 1
                continue  # no answer: not acknowledged
            with lock:
                acked[j["decision_id"]] = ("accept" if st == 200 else "reject",
                                           "ok" if st == 200 else j["error"], rep["nonce"] if i % 2 == 0 else "")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    deadline = time.time() + 300
    while len(acked) < 200 and time.time() < deadline:
        time.sleep(0.01)
    d.kill9()  # under load: requests are in flight right now
    killed_at = len(acked)
    stop.set()
    for t in threads:
        t.join(300)
    log("acknowledged before kill -9: %d (at kill: %d), client errors after it: %d" % (len(acked), killed_at, errors[0]))
    check(len(acked) >= 200, "enough load before the kill")
    d2 = env.start(conf, "crash")
    rows = audit(env, db)
    byid = {r["decision_id"]: r for r in rows}
    missing = [k for k in acked if k not in byid]
    check(not missing, "%d acknowledged decisions missing after kill -9, e.g. %s" % (len(missing), missing[:3]))
    wrong = [k for k, v in acked.items() if (byid[k]["verdict"], byid[k]["code"]) != v[:2]]
    check(not wrong, "audit verdicts differ from the answers: %s" % wrong[:3])
    # accepted nonces stay consumed across the crash
    accepted_nonces = [v[2] for v in acked.values() if v[0] == "accept"]
    check(accepted_nonces, "some reports were accepted before the kill")
    rep = next(r for r in reports if r["nonce"] == accepted_nonces[0])
    st, j = d2.submit(rep["request"], rep["report"])
    check(st == 403 and j["error"] == "nonce_replayed", "accepted nonce replayed after restart: %s %s" % (st, j))
    # the audit log refuses changes
    r = env.run(["sqlite3", env.path("verifier.db"), "DELETE FROM audit"]) if os.path.exists("/usr/bin/sqlite3") else None
    if r is not None:
        check(r.returncode != 0 and "append-only" in r.stderr, "DELETE on audit refused: %s" % r.stderr)
    log("PASS: %d acknowledged decisions all durable (%d audit rows)" % (len(acked), len(rows)))
finally:
    env.cleanup()
