#!/usr/bin/env python3
"""PostgreSQL roles and restarts (issue 18, item 4), real server, real HTTP:
- `attest-verifier init --grant attest_daemon`, run as the tables' owner,
  sets the schema up; the daemon runs as the least-privilege role
  attest_daemon (no CREATE, SELECT on keys, SELECT/INSERT elsewhere);
- that role cannot UPDATE, DELETE or TRUNCATE the audit log, nor change
  keys; the owner cannot TRUNCATE it either (trigger);
- under load, the server crashes (pg_ctl stop -m immediate) and comes back:
  the replica stays up, /healthz is 503 while the database is down and 200
  again without restarting the replica, and every decision the clients were
  answered (200/403) is in the audit log with that verdict; reports answered
  503 are accepted afterwards (their nonce was never used)."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, audit, check, log  # noqa: E402

env = Env("pg-roles")
try:
    env.require_reportgen()
    if not os.path.exists("/usr/bin/psql"):
        log("SKIP: psql not installed")
        env.cleanup()
        sys.exit(77)
    su = env.start_postgres()
    base = su.rsplit("/", 1)[0].replace("postgres@", "%s@")
    for sql in ["CREATE ROLE attest_owner LOGIN", "CREATE ROLE attest_daemon LOGIN",
                "CREATE DATABASE attest OWNER attest_owner"]:
        res = env.psql(su, sql)
        check(res.returncode == 0, "%s: %s" % (sql, res.stderr))
    owner, daemon_url = base % "attest_owner" + "/attest", base % "attest_daemon" + "/attest"
    res = env.psql(base % "postgres" + "/attest", "ALTER SCHEMA public OWNER TO attest_owner")
    check(res.returncode == 0, "schema owner: " + res.stderr)
    hv, guest = env.genkey("hv.pem"), env.genkey("guest.pem")
    token = env.path("token.pem")
    env.cli_run("token-keygen", token)
    reg = env.write("region.bin", b"pg roles region" * 64)
    policy = env.write("policy.json", json.dumps({"max_timestamp_skew_s": -1, "allow_unnamed_regions": True}))
    env.cli_run("init", "--storage", owner, "--grant", "attest_daemon")
    env.cli_run("enroll", "--storage", owner, "--insecure-no-evidence", "hv", hv)
    env.cli_run("enroll", "--storage", owner, "guest", guest)
    conf = env.config("least", daemon_url, policy, token)
    d = env.start(conf, "least")
    st, h = d.request("GET", "/healthz")
    check(st == 200 and h["storage"] == "postgresql", "daemon runs as attest_daemon: %s %s" % (st, h))

    # ---- privileges -------------------------------------------------------------
    q, r = env.reportgen_one(hv, guest, d.challenge(), [reg])
    st, j = d.submit(q, r)
    check(st == 200, "accepted as the least-privilege role: %s %s" % (st, j))
    for sql in ["UPDATE audit SET verdict = 'accept'", "DELETE FROM audit", "TRUNCATE audit",
                "UPDATE keys SET revoked_ms = NULL", "INSERT INTO keys VALUES ('x','hv',1,'x','x',0,NULL)",
                "DELETE FROM nonces", "CREATE TABLE evil (x int)"]:
        res = env.psql(daemon_url, sql)
        check(res.returncode != 0, "attest_daemon may not: %s" % sql)
    res = env.psql(owner, "TRUNCATE audit")
    check(res.returncode != 0 and "append-only" in res.stderr, "TRUNCATE refused for the owner: %s" % res.stderr)
    check(len(audit(env, owner)) >= 3, "audit rows survive")

    # ---- a database crash under load ------------------------------------------
    N = 240
    nonces = d.challenge(count=N)
    reports = env.reportgen_many(hv, guest, nonces, [reg])
    answers, lock, i = [], threading.Lock(), [0]
    down = threading.Event()

    def worker():
        while True:
            with lock:
                if i[0] >= len(reports):
                    return
                rep = reports[i[0]]
                i[0] += 1
            try:
                st, j = d.submit(rep["request"], rep["report"])
            except Exception as e:  # noqa: BLE001
                st, j = -1, {"error": str(e)}
            with lock:
                answers.append((rep, st, j))
            if down.is_set():
                time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    while len(answers) < 40:
        time.sleep(0.01)
    env.pg_ctl("stop", "immediate")  # a crash, with decisions in flight
    down.set()
    saw_503 = False
    for _ in range(50):
        st, h = d.request("GET", "/healthz")
        if st == 503:
            saw_503 = True
            break
        time.sleep(0.1)
    check(saw_503, "healthz says 503 while the database is down")
    check(d.proc.poll() is None, "the replica stays up")
    time.sleep(1)
    env.pg_ctl("start")
    deadline, healthy = time.time() + 60, False
    while time.time() < deadline and not healthy:
        st, h = d.request("GET", "/healthz")
        healthy = st == 200
        time.sleep(0.2)
    check(healthy, "healthz 200 again after the restart, same replica process")
    down.clear()
    for t in threads:
        t.join(600)
    acked = [(rep, st, j) for rep, st, j in answers if st in (200, 403)]
    unavailable = [rep for rep, st, j in answers if st not in (200, 403)]
    log("answers: %d acknowledged, %d not (503 or connection error)" % (len(acked), len(unavailable)))
    check(unavailable, "some submissions met the outage (the test really crashed the database under load)")
    rows = {x["decision_id"]: x for x in audit(env, owner)}
    for rep, st, j in acked:
        row = rows.get(j.get("decision_id"))
        check(row is not None, "acknowledged decision %s lost" % j.get("decision_id"))
        check(row["verdict"] == ("accept" if st == 200 else "reject"), "audit verdict of %s" % j)
    # A report answered 503 is accepted when sent again, unless the crash hit
    # between its COMMIT and the answer (outcome unknown to the replica):
    # then its accept is in the audit log and only that makes it a replay.
    in_doubt = 0
    for rep in unavailable:
        st, j = d.submit(rep["request"], rep["report"])
        if st != 200:
            committed = [x for x in audit(env, owner) if x["nonce"] == rep["nonce"] and x["verdict"] == "accept"]
            check(st == 403 and j.get("error") == "nonce_replayed" and committed,
                  "a report answered 503 during the outage: %s %s" % (st, j))
            in_doubt += 1
    log("resubmitted %d, %d of them had committed before the crash cut the answer" % (len(unavailable), in_doubt))
    rows = {x["decision_id"]: x for x in audit(env, owner)}
    acc = [x["nonce"] for x in rows.values() if x["verdict"] == "accept"]
    check(len(acc) == len(set(acc)), "no nonce accepted twice")
    log("PASS: least-privilege daemon, append-only audit, %d acknowledged decisions survived a crash" % len(acked))
finally:
    env.cleanup()
