#!/usr/bin/env python3
"""Abuse limits (issue 18, item 5), each attack of the issue reproduced over
real HTTP against a real daemon with SQLite; the service keeps answering a
second client (source address 127.0.0.2) throughout:
- slowloris: 100 connections from one client dripping a header byte a
  second hold at most max_connections_per_client slots; a silent one is
  closed after request_timeout_s;
- nonce flood: count=1000 challenges are refused (429 rate_limited) past the
  client's nonce budget; unused nonces are deleted once expired;
- audit flood: bodies of {} past the unauthenticated-rejection budget get no
  audit row of their own, one reject_summary row counts them;
- request flood: 429 past client_requests_per_s.
All with the documented defaults except where a value is set below."""
import base64
import http.client
import json
import os
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, audit, check, log  # noqa: E402

OTHER = "127.0.0.2"  # the well-behaved client


def req(d, method, path, body=None, source=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data and r.getheader("Content-Type", "").startswith("application/json") else data
    finally:
        c.close()


def rows(db, sql):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


env = Env("abuse")
try:
    env.require_reportgen()
    hv, guest = env.genkey("hv.pem"), env.genkey("guest.pem")
    token = env.path("token.pem")
    env.cli_run("token-keygen", token)
    reg = env.write("region.bin", b"abuse region " * 64)
    policy = env.write("policy.json", json.dumps({"max_timestamp_skew_s": -1, "allow_unnamed_regions": True}))
    dbf = env.path("v.db")
    defaults = {"client_requests_per_s": 500, "client_nonces_per_s": 50, "client_unauth_audits_per_s": 5}
    conf = env.config("abuse", "sqlite:" + dbf, policy, token, request_timeout_s=3, max_connections=64,
                      max_connections_per_client=8, nonce_ttl_s=2, **defaults)
    env.cli_run("enroll", "--config", conf, "--insecure-no-evidence", "hv", hv)
    env.cli_run("enroll", "--config", conf, "guest", guest)
    d = env.start(conf, "abuse")

    # ---- slowloris ---------------------------------------------------------
    socks = []
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    worst = 0.0
    for rnd in range(6):  # 6 s of dripping, one byte a second on every socket
        for s in socks:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        t0 = time.time()
        st, j = req(d, "POST", "/v1/challenge", source=OTHER)
        worst = max(worst, time.time() - t0)
        check(st == 200 and len(j["nonce"]) == 64, "challenge during the slowloris: %s %s" % (st, j))
        time.sleep(1)
    open_socks = []
    for s in socks:
        s.settimeout(0.01)
        try:
            alive = s.recv(1) != b""
        except socket.timeout:
            alive = True
        except OSError:
            alive = False
        if alive:
            open_socks.append(s)
        else:
            s.close()
    log("slowloris: %d of 100 connections still held, other client served in <= %.2f s" % (len(open_socks), worst))
    check(len(open_socks) <= 8, "one client holds at most max_connections_per_client: %d" % len(open_socks))
    check(worst < 2, "the other client was answered promptly")
    time.sleep(4.5)  # silent now: request_timeout_s (3) closes them
    for s in open_socks:
        s.settimeout(2)
        try:
            closed = s.recv(1) == b""
        except OSError:
            closed = True
        check(closed, "a silent half-sent request is closed after request_timeout_s")
        s.close()

    # ---- nonce flood -------------------------------------------------------
    t0 = time.time()
    codes = []
    for _ in range(5):
        st, j = req(d, "POST", "/v1/challenge", json.dumps({"count": 1000}))
        codes.append(st if st == 200 else j.get("error"))
    elapsed = time.time() - t0
    check(codes[0] == 200 and codes.count("rate_limited") >= 3, "nonce flood refused past the budget: %s" % codes)
    st, j = req(d, "POST", "/v1/challenge", source=OTHER)
    check(st == 200, "the other client still gets nonces")
    issued = rows(dbf, "SELECT count(*) FROM nonces")
    check(issued <= 1000 + 50 * (elapsed + 1) + 20, "durable nonce rows bounded by the budget: %d" % issued)
    # retention: unused nonces (ttl 2 s) go at the next GC; a used one stays
    n = req(d, "POST", "/v1/challenge", source=OTHER)[1]["nonce"]
    q, r = env.reportgen_one(hv, guest, n, [reg])
    st, j = req(d, "POST", "/v1/attest", json.dumps({"request": base64.b64encode(q).decode(),
                                                      "report": base64.b64encode(r).decode()}), source=OTHER)
    check(st == 200, "a valid report from the other client: %s %s" % (st, j))
    deadline = time.time() + 30
    while time.time() < deadline and rows(dbf, "SELECT count(*) FROM nonces") > 1:
        time.sleep(0.5)
    left = rows(dbf, "SELECT count(*) FROM nonces")
    check(left == 1, "unused nonces deleted once expired, the used one kept: %d rows" % left)

    # ---- audit flood ---------------------------------------------------------
    before = rows(dbf, "SELECT count(*) FROM audit")
    t0 = time.time()
    with_id = 0
    for _ in range(300):
        st, j = req(d, "POST", "/v1/attest", "{}")
        check(st == 400 and j["error"] == "missing_field", "flood answer: %s %s" % (st, j))
        with_id += "decision_id" in j
    elapsed = time.time() - t0
    check(with_id <= 50 + 5 * (elapsed + 1), "individually audited: %d of 300 in %.1f s" % (with_id, elapsed))
    deadline = time.time() + 30
    summary = []
    while time.time() < deadline and not summary:
        summary = [x for x in audit(env, "sqlite:" + dbf) if x["verdict"] == "reject_summary"]
        time.sleep(0.5)
    check(summary and summary[0]["client"] == "127.0.0.1", "a summary row: %s" % summary)
    counted = sum(x["evidence"]["count"] for x in summary)
    check(counted == 300 - with_id and summary[0]["evidence"]["codes"].get("missing_field") == counted,
          "the summary counts every unrecorded rejection: %d + %d != 300" % (counted, with_id))
    after = rows(dbf, "SELECT count(*) FROM audit")
    check(after - before == with_id + len(summary), "audit rows: %d new" % (after - before))
    st, m = req(d, "GET", "/metrics", source=OTHER)
    check(b'attest_verifier_rate_limited_total{limit="unauth_audits"} %d' % counted in m, "metrics count them")

    # ---- request flood ---------------------------------------------------------
    d.stop()
    conf2 = env.config("abuse2", "sqlite:" + dbf, policy, token, client_requests_per_s=20, client_request_burst=20)
    d = env.start(conf2, "abuse2")
    got = [req(d, "GET", "/healthz")[0] for _ in range(60)]
    check(got.count(429) >= 30 and got[0] == 200, "request flood refused past the rate: %s" % got)
    check(req(d, "GET", "/healthz", source=OTHER)[0] == 200, "the other client is served")
    log("PASS: abuse limits")
finally:
    env.cleanup()
