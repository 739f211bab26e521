#!/usr/bin/env python3
"""Read deadline (issue 18, item 5: slowloris). request_timeout_s is an idle
timeout that restarts with every byte; request_deadline_s bounds the whole
read of a request. Over real HTTP against a real daemon (SQLite):
- a client dripping its header, and one dripping its body, a byte every
  0.5 s (faster than the 2 s idle timeout) are cut off at the 4 s deadline,
  counted in attest_verifier_deadline_closed_total;
- meanwhile another client (127.0.0.2) is answered promptly;
- a well-behaved keep-alive connection making a request a second for longer
  than the deadline is not cut off (each request gets a fresh deadline)."""
import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, check, log  # noqa: E402

IDLE, DEADLINE = 2, 4
env = Env("deadline")
try:
    token = env.path("token.pem")
    env.cli_run("token-keygen", token)
    policy = env.write("policy.json", json.dumps({"allow_unnamed_regions": True}))
    conf = env.config("deadline", "sqlite:" + env.path("v.db"), policy, token,
                      request_timeout_s=IDLE, request_deadline_s=DEADLINE)
    d = env.start(conf, "deadline")

    def dripper(head):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(head)
        return s

    drips = {  # name: (socket, the byte it drips)
        "header": (dripper(b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\n"), b"X"),
        "body": (dripper(b"POST /v1/attest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 500\r\n\r\n{"), b" "),
    }
    t0 = time.time()
    closed_at = {}
    worst = 0.0
    ka = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)  # keep-alive
    ka_ok = 0
    next_ka = t0
    while time.time() - t0 < 15 and (len(closed_at) < len(drips) and time.time() - t0 < 12 or ka_ok < 7):
        for name, (s, byte) in drips.items():
            if name in closed_at:
                continue
            try:
                s.sendall(byte)
                s.settimeout(0.01)
                gone = s.recv(1) == b""
            except socket.timeout:
                gone = False
            except OSError:
                gone = True
            if gone:
                closed_at[name] = time.time() - t0
                log("%s dripper closed after %.2f s" % (name, closed_at[name]))
        if time.time() >= next_ka and ka_ok < 7:
            ka.request("GET", "/healthz")
            r = ka.getresponse()
            r.read()
            ka_ok += r.status == 200
            next_ka = time.time() + 1.0
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10, source_address=("127.0.0.2", 0))
        t1 = time.time()
        c.request("POST", "/v1/challenge")
        r = c.getresponse()
        ok = r.status == 200 and len(json.loads(r.read())["nonce"]) == 64
        c.close()
        worst = max(worst, time.time() - t1)
        check(ok, "the other client gets a challenge while the drips go on")
        time.sleep(0.5)
    for name in drips:
        at = closed_at.get(name)
        check(at is not None and DEADLINE - 0.5 <= at <= DEADLINE + 2.5,
              "the %s dripper (a byte every 0.5 s, idle timeout %d s) is cut off at the %d s deadline: %s"
              % (name, IDLE, DEADLINE, "%.2f s" % at if at is not None else "still open after 12 s"))
    check(worst < 2, "the other client answered promptly (worst %.2f s)" % worst)
    check(ka_ok == 7, "a keep-alive client making a request a second for 7 s is served: %d of 7" % ka_ok)
    ka.close()
    st, m = d.request("GET", "/metrics")
    line = [x for x in m.decode().splitlines() if x.startswith("attest_verifier_deadline_closed_total ")]
    check(line and int(line[0].split()[1]) >= 2, "deadline closes counted: %s" % line)
    log("PASS: read deadline")
finally:
    env.cleanup()
