#!/usr/bin/env python3
"""Revocation holds from the next request on (issue 18, item 2), over real
HTTP, on SQLite and on two PostgreSQL replicas:
- `revoke` with no SIGHUP: the next submission signed with the key is
  refused (unknown_hv_key / unknown_guest_key) and its nonce stays unused;
- a SIGHUP while the policy file has an error still reloads the keys (the
  policy stays the old one);
- enrolling a revoked key again is refused unless --unrevoke;
- every key change (enroll, re-enroll, revoke, unrevoke) is an audit row."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, audit, check, log  # noqa: E402


def wait_reload(d, counter):
    """Wait until the daemon's reloads_total or reload_errors_total moves."""
    def value():
        st, m = d.request("GET", "/metrics")
        return [l for l in m.decode().splitlines() if l.startswith("attest_verifier_" + counter)][0]
    before = value()
    d.hup()
    deadline = time.time() + 120
    while time.time() < deadline:
        if value() != before:
            return
        time.sleep(0.05)
    check(False, "SIGHUP reload not observed")


def scenario(env, storage, name, daemons, conf):
    hv, guest, hv2 = env.genkey(name + "-hv.pem"), env.genkey(name + "-guest.pem"), env.genkey(name + "-hv2.pem")
    reg = env.write(name + "-region.bin", b"revocation region " * 40)
    hv_id = env.cli_run("enroll", "--config", conf, "--insecure-no-evidence", "hv", hv).stdout.strip()
    guest_id = env.cli_run("enroll", "--config", conf, "guest", guest).stdout.strip()
    for d in daemons:
        wait_reload(d, "reloads_total")

    def submit(d, hvkey, want, what):
        q, r = env.reportgen_one(hvkey, guest, d.challenge(), [reg])
        st, j = d.submit(q, r)
        got = "ok" if st == 200 else j.get("error")
        check(got == want, "%s (%s): wanted %s, got %s %s" % (what, d.name, want, st, j))
        return q, r

    for d in daemons:
        submit(d, hv, "ok", "enrolled key accepted")
    # revoke: no SIGHUP, every replica refuses the next request
    env.cli_run("revoke", "--config", conf, hv_id)
    kept = None
    for d in daemons:
        kept = submit(d, hv, "unknown_hv_key", "revoked hv key, no reload")
    # re-enroll refused without --unrevoke, allowed with it
    r = env.run([env.cli, "enroll", "--config", conf, "--insecure-no-evidence", "hv", hv])
    check(r.returncode == 1 and "--unrevoke" in r.stderr, "re-enroll of a revoked key refused: %s" % r.stderr)
    for d in daemons:
        submit(d, hv, "unknown_hv_key", "still revoked after the refused re-enroll")
    env.cli_run("enroll", "--config", conf, "--unrevoke", "--insecure-no-evidence", "hv", hv)
    # the refused submission did not burn its nonce: it passes now
    st, j = daemons[0].submit(*kept)
    check(st == 200, "the revoked-key submission's nonce stayed unused: %s %s" % (st, j))
    # keys reload even when the policy file is broken; revocation still holds
    hv2_id = env.cli_run("enroll", "--config", conf, "--insecure-no-evidence", "hv", hv2).stdout.strip()
    env.cli_run("revoke", "--config", conf, guest_id)
    good_policy = open(env.path("policy.json")).read()
    env.write("policy.json", "{broken")
    for d in daemons:
        wait_reload(d, "reload_errors_total")
        # hv2 passes (it was loaded: else unknown_hv_key), the guest key not
        submit(d, hv2, "unknown_guest_key", "hv2 loaded, guest revoked, by a reload with a bad policy")
    env.cli_run("enroll", "--config", conf, "--unrevoke", "guest", guest)
    for d in daemons:  # enrolling (unlike revoking) takes a reload
        wait_reload(d, "reload_errors_total")
        submit(d, hv2, "ok", "keys reloaded while the policy file is broken")
    env.write("policy.json", good_policy)
    # every key change is audited
    rows = [x for x in audit(env, storage) if x["verdict"] == "key_change"]
    seen = [(x["code"], x["hv_key_id"] or x["guest_key_id"]) for x in rows]
    want = [("key_enrolled", hv_id), ("key_enrolled", guest_id), ("key_revoked", hv_id), ("key_unrevoked", hv_id),
            ("key_enrolled", hv2_id), ("key_revoked", guest_id), ("key_unrevoked", guest_id)]
    check(seen == want, "key changes in the audit log: %s" % seen)
    check(all(x["client"].startswith("cli:") for x in rows), "the operator is recorded")
    log("%s: revocation immediate, re-enroll guarded, %d key changes audited" % (name, len(rows)))


env = Env("revocation")
try:
    env.require_reportgen()
    token = env.path("token.pem")
    env.cli_run("token-keygen", token)
    policy = env.write("policy.json", json.dumps({"max_timestamp_skew_s": -1, "allow_unnamed_regions": True}))
    db = "sqlite:" + env.path("v.db")
    conf = env.config("sqlite", db, policy, token)
    env.cli_run("init", "--config", conf)
    d = env.start(conf, "sqlite")
    scenario(env, db, "sqlite", [d], conf)
    d.stop()

    url = env.start_postgres()
    ca = env.config("replica-a", url, policy, token)
    cb = env.config("replica-b", url, policy, token)
    env.cli_run("init", "--config", ca)
    a, b = env.start(ca, "replica-a"), env.start(cb, "replica-b")
    scenario(env, url, "postgresql", [a, b], ca)
    log("PASS: revocation")
finally:
    env.cleanup()
