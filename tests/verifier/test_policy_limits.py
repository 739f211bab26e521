#!/usr/bin/env python3
"""Policy enforcement has no silent limits (issue 18, item 3), over real HTTP
with SQLite:
- a `required` region at index 256 (after 256 other entries) is enforced:
  the report that lacks it is refused with policy_region_missing;
- policy-check and the daemon refuse a policy they could not enforce (more
  required regions than a report carries, sizes above what a report
  measures); policy-check warns about a reference digest that can never
  match (its algorithm is not in hash_algs);
- an unprefixed reference digest names SHA-2 of its length: it does not match
  a SHA3-256 region with the same bytes; "sha3-256:" does."""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, check, log  # noqa: E402

env = Env("policy-limits")
try:
    env.require_reportgen()
    hv, guest = env.genkey("hv.pem"), env.genkey("guest.pem")
    token = env.path("token.pem")
    env.cli_run("token-keygen", token)
    reg = env.write("region.bin", b"policy limits region " * 50)
    data = open(reg, "rb").read()
    sha2, sha3 = hashlib.sha256(data).hexdigest(), hashlib.sha3_256(data).hexdigest()

    # ---- policy-check refuses what cannot be enforced --------------------------
    many_req = {"regions": [{"name": "r%d" % i, "required": True, "digests": ["00" * 32]} for i in range(65)]}
    r = env.run([env.cli, "policy-check", env.write("many-req.json", json.dumps(many_req))])
    check(r.returncode == 1 and "required" in r.stderr, "65 required regions refused: %d %s" % (r.returncode, r.stderr))
    dead = {"hash_algs": ["sha256"], "regions": [{"name": "a", "digests": ["sha3-256:" + sha3]}]}
    r = env.run([env.cli, "policy-check", env.write("dead.json", json.dumps(dead))])
    check(r.returncode == 0 and "warning" in r.stdout and "never matches" in r.stdout,
          "digest of a forbidden algorithm: policy-check warns: " + r.stdout)
    big = {"regions": [{"name": "a", "size": 1 << 31, "digests": [sha2]}]}
    r = env.run([env.cli, "policy-check", env.write("big.json", json.dumps(big))])
    check(r.returncode == 1 and "size" in r.stderr, "pinned size above the report limit refused: " + r.stderr)

    # ---- a required region at index 256 ----------------------------------------
    fillers = [{"name": "f%03d" % i, "digests": ["%064x" % (i + 1)]} for i in range(256)]
    pol = {"max_timestamp_skew_s": -1,
           "regions": fillers + [{"name": "a", "digests": [sha2]},
                                 {"name": "kernel", "required": True, "digests": ["11" * 32]}]}
    policy = env.write("policy.json", json.dumps(pol))
    env.cli_run("policy-check", policy)
    db = "sqlite:" + env.path("v.db")
    conf = env.config("pl", db, policy, token)
    env.cli_run("enroll", "--config", conf, "--insecure-no-evidence", "hv", hv)
    env.cli_run("enroll", "--config", conf, "guest", guest)
    # the daemon refuses an unenforceable policy at start
    bad_conf = env.config("pl-bad", db, env.path("many-req.json"), token)
    r = env.run([env.daemon, "--config", bad_conf, "--check"])
    check(r.returncode == 1 and "required" in r.stderr, "daemon refuses 65 required regions: " + r.stderr)
    d = env.start(conf, "pl")
    q, rep = env.reportgen_one(hv, guest, d.challenge(), [reg])
    st, j = d.submit(q, rep, ["a"])
    check(st == 403 and j.get("error") == "policy_region_missing" and "kernel" in j.get("detail", ""),
          "required region at index 257 enforced: %s %s" % (st, j))

    # ---- unprefixed digests are SHA-2 by name -----------------------------------
    def try_policy(digests, alg, want):
        env.write("policy.json", json.dumps({"max_timestamp_skew_s": -1,
                                             "regions": [{"name": "a", "digests": digests}]}))
        env.cli_run("policy-check", policy)
        d.stop()
        dd = env.start(conf, "pl")
        q, rep = env.reportgen_one(hv, guest, dd.challenge(), [reg], alg=alg)
        st, j = dd.submit(q, rep, ["a"])
        got = "ok" if st == 200 else j.get("error")
        check(got == want, "digests %s, %s report: wanted %s, got %s %s" % (digests, alg, want, st, j))
        return dd

    d = try_policy([sha3], "sha3-256", "policy_region_mismatch")
    d = try_policy(["sha3-256:" + sha3], "sha3-256", "ok")
    d = try_policy([sha2], "sha256", "ok")
    d = try_policy(["sha256:" + sha3], "sha3-256", "policy_region_mismatch")
    log("PASS: policy limits")
finally:
    env.cleanup()
