#!/usr/bin/env python3
"""API tests over real HTTP: every rejection path with its documented code,
acceptance with a token verified by PyJWT through the JWKS, the audit log,
policy reload, and the CLI. SQLite storage."""
import base64
import hashlib
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtest import Env, audit, b64, check, fail, log  # noqa: E402

env = Env("api")
try:
    # ---- CLI basics that need no reports ---------------------------------
    for cmd in ["", "verify", "enroll", "revoke", "keys", "key-id", "policy-check", "audit", "init", "token-keygen"]:
        r = env.run([env.cli] + ([cmd] if cmd else []) + ["--help"], check_rc=0)
        check("usage" in r.stdout, "%s --help prints usage" % cmd)
    r = env.run([env.daemon, "--help"], check_rc=0)
    check("usage" in r.stdout, "daemon --help")
    check(env.run([env.cli, "frobnicate"]).returncode == 2, "unknown command -> 2")
    check(env.run([env.cli, "enroll", "--storage", "sqlite:" + env.path("x.db"), "teapot", "/dev/null"]).returncode == 2,
          "bad key kind -> 2")
    r = env.run([env.cli, "enroll", "--storage", "sqlite:" + env.path("x.db"), "--insecure-no-evidence", "hv", env.write("junk.pem", "junk")])
    check(r.returncode == 1 and "not a PEM" in r.stderr, "junk key -> clear error: " + r.stderr)
    r = env.run([env.cli, "policy-check", env.write("bad-policy.json", '{"regions":[{"name":"a","digests":["zz"]}]}')])
    check(r.returncode == 1 and "digests" in r.stderr, "bad policy names the field: " + r.stderr)
    r = env.run([env.cli, "policy-check", env.write("bad-policy2.json", '{"alow_dev_key":true}')])
    check(r.returncode == 1 and "alow_dev_key" in r.stderr, "typo in policy is an error: " + r.stderr)
    r = env.run([env.daemon, "--config", env.write("badconf.json", '{"stroage":"x"}')])
    check(r.returncode == 1 and "stroage" in r.stderr, "typo in config is an error: " + r.stderr)

    # ---- keys, regions, policy, daemon ------------------------------------
    hv = env.genkey("hv.pem")
    guest = env.genkey("guest.pem")
    other_hv = env.genkey("other-hv.pem")
    other_guest = env.genkey("other-guest.pem")
    hv384 = env.genkey("hv384.pem", "secp384r1")
    token_key = env.path("token.pem")
    env.cli_run("token-keygen", token_key)
    check(env.run([env.cli, "token-keygen", token_key]).returncode == 1, "token-keygen refuses to overwrite")
    reg_a = env.write("region-a.bin", b"attest-hv region A " * 100)
    reg_b = env.write("region-b.bin", os.urandom(5000))
    dig_a = hashlib.sha256(open(reg_a, "rb").read()).hexdigest()
    dig_b = hashlib.sha256(open(reg_b, "rb").read()).hexdigest()
    base_policy = {"max_timestamp_skew_s": -1,
                   "regions": [{"name": "a", "digests": ["sha256:" + dig_a]},
                               {"name": "b", "digests": [dig_b]},
                               {"name": "other", "digests": ["00" * 32]}]}
    policy = env.write("policy.json", json.dumps(base_policy))
    env.cli_run("policy-check", policy)
    db = "sqlite:" + env.path("verifier.db")
    conf = env.config("api", db, policy, token_key, max_body_bytes=32768)
    hv_id = env.cli_run("enroll", "--config", conf, "--insecure-no-evidence", "hv", hv).stdout.strip()
    check(hv_id == env.cli_run("key-id", hv).stdout.strip(), "enroll prints the key id")
    env.cli_run("enroll", "--config", conf, "--name", "guest-1", "guest", guest)
    env.cli_run("enroll", "--config", conf, "--insecure-no-evidence", "hv", hv384)
    check(env.run([env.cli, "enroll", "--config", conf, "guest", hv]).returncode == 1, "one key, one kind")
    keys = env.cli_run("keys", "--config", conf).stdout
    check(hv_id in keys and "guest-1" in keys, "keys lists enrolled keys")
    d = env.start(conf, "api")

    # ---- transport / syntax (no report needed) -----------------------------
    def expect(res, status, code, what):
        st, j = res
        if st != status or not isinstance(j, dict) or j.get("error") != code:
            fail("%s: wanted %d %s, got %d %s" % (what, status, code, st, j))
        if status != 200:
            check(j.get("message"), what + ": message present")
        return j

    acked = []  # decision ids we were answered with

    def expect_decision(res, status, code, what):
        j = expect(res, status, code, what)
        check("decision_id" in j, what + ": decision_id present")
        acked.append(j["decision_id"])
        return j

    expect(d.request("GET", "/nope"), 404, "not_found", "unknown path")
    expect(d.request("GET", "/v1/attest"), 405, "method_not_allowed", "GET attest")
    expect(d.request("POST", "/v1/jwks"), 405, "method_not_allowed", "POST jwks")
    expect_decision(d.submit(None, None, raw="{}", ctype="text/plain"), 415, "unsupported_media_type", "text/plain")
    expect_decision(d.submit(None, None, raw="{}", ctype=None), 415, "unsupported_media_type", "no content type")
    expect_decision(d.submit(None, None, raw="{\"report\": "), 400, "malformed_json", "truncated JSON body")
    expect_decision(d.submit(None, None, raw="[1,2]"), 400, "malformed_json", "JSON array")
    expect_decision(d.submit(None, None, raw="\xff\xfe"), 400, "malformed_json", "not UTF-8")
    expect_decision(d.submit(None, None, raw='{"report":"AAAA","report":"AAAA","request":"AAAA"}'), 400,
                    "malformed_json", "duplicate keys")
    expect_decision(d.submit(None, None, raw='{"request":"AAAA"}'), 400, "missing_field", "no report")
    expect_decision(d.submit(None, None, raw='{"report":"AAAA"}'), 400, "missing_field", "no request")
    expect_decision(d.submit(None, None, raw='{"report":5,"request":"AAAA"}'), 400, "bad_field", "report not a string")
    expect_decision(d.submit(None, None, raw='{"report":"A$==","request":"AAAA"}'), 400, "bad_base64", "bad base64 char")
    expect_decision(d.submit(None, None, raw='{"report":"AAA","request":"AAAA"}'), 400, "bad_base64", "bad base64 length")
    expect_decision(d.submit(None, None, raw='{"report":"AAB=","request":"AAAA"}'), 400, "bad_base64", "non-canonical base64")
    expect_decision(d.submit(None, None, raw='{"report":"A' + "A" * 20000 + '","request":"AAAA"}'), 400, "bad_field",
                    "report longer than any report")
    expect_decision(d.submit(None, None, raw=json.dumps({"report": "x" * 40000, "request": ""})), 413,
                    "body_too_large", "oversize body")
    expect_decision(d.submit(b"", b"\x00" * 100), 400, "bad_report_format", "short report")
    expect_decision(d.submit(b"", b"AHVR" + b"\x00" * 700), 400, "unsupported_version", "report of wire version 0")
    expect_decision(d.submit(b"", b"XHVR\x01\x00" + b"\x00" * 700), 400, "bad_report_format", "bad magic")
    # chunked oversize body (no Content-Length)
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=300)
    c.putrequest("POST", "/v1/attest")
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for _ in range(10):
        chunk = b" " * 8000
        c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    j = json.loads(r.read())
    c.close()
    check(r.status == 413 and j["error"] == "body_too_large", "chunked oversize: %s %s" % (r.status, j))
    acked.append(j["decision_id"])

    # ---- health, metrics, JWKS ------------------------------------------------
    st, j = d.request("GET", "/healthz")
    check(st == 200 and j["status"] == "ok" and j["storage"] == "sqlite", "health: %s" % j)
    st, m = d.request("GET", "/metrics")
    check(st == 200 and b'attest_verifier_decisions_total{code="malformed_json"} 4' in m, "metrics count decisions")
    st, jwks = d.request("GET", "/v1/jwks")
    check(st == 200 and jwks["keys"][0]["alg"] == "ES256" and jwks["keys"][0]["crv"] == "P-256", "jwks: %s" % jwks)
    st, jwks2 = d.request("GET", "/.well-known/jwks.json")
    check(jwks2 == jwks, "well-known JWKS alias")
    nonce = d.challenge()
    check(len(nonce) == 64, "nonce is 32 bytes hex")
    many = d.challenge(count=5)
    check(len(set(many)) == 5, "batch challenge gives distinct nonces")
    expect(d.request("POST", "/v1/challenge", '{"count":0}', {"Content-Type": "application/json"}), 400,
           "bad_field", "count 0")
    expect(d.request("POST", "/v1/challenge", '{"count":', {"Content-Type": "application/json"}), 400,
           "malformed_json", "bad challenge body")

    if not env.have_reportgen():
        log("SKIP: ahv-reportgen not built; %d report-free checks passed" % len(acked))
        env.cleanup()
        sys.exit(77)

    # ---- valid report: accepted, token verifies with PyJWT ---------------------
    import jwt  # python3-jwt (PyJWT), an independent JWT implementation
    regions = [reg_a, reg_b]
    nonce = d.challenge()
    q, r = env.reportgen_one(hv, guest, nonce, regions)
    st, j = d.submit(q, r, ["a", "b"])
    check(st == 200 and j["verdict"] == "accept", "valid report accepted: %s %s" % (st, j))
    acked.append(j["decision_id"])
    tok = j["token"]
    hdr = jwt.get_unverified_header(tok)
    check(hdr["alg"] == "ES256" and hdr["kid"] == jwks["keys"][0]["kid"], "token header")
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(tok, key, algorithms=["ES256"], issuer="attest-verifier-test",
                        options={"require": ["exp", "iat", "eat_nonce"]})
    check(claims["eat_nonce"] == nonce, "eat_nonce is the challenge")
    check(claims["jti"] == j["decision_id"], "jti is the decision id")
    check(claims["exp"] > claims["iat"], "exp after iat")
    check([x["verdict"] for x in claims["regions"]] == ["match", "match"], "per-region verdicts: %s" % claims["regions"])
    check([x["name"] for x in claims["regions"]] == ["a", "b"], "region names")
    check(claims["regions"][0]["digest"] == dig_a and claims["regions"][1]["digest"] == dig_b, "region digests")
    check("composite_digest" in claims["measurements"] and claims["hv_key_id"] == hv_id, "measurements, key id")
    check(isinstance(claims["hv_version"], str) and claims["hv_version"].count(".") == 2, "hv_version")
    # the token does not verify with another key (sanity of the check itself)
    try:
        jwt.decode(tok, jwt.PyJWK({"kty": "EC", "crv": "P-256", "x": jwks["keys"][0]["y"], "y": jwks["keys"][0]["x"]}).key,
                   algorithms=["ES256"], options={"verify_aud": False})
        fail("token verified with a wrong key")
    except Exception:
        pass

    # ---- replay -----------------------------------------------------------------
    expect_decision(d.submit(q, r, ["a", "b"]), 403, "nonce_replayed", "replayed nonce")

    # ---- one flipped byte anywhere in the report never passes, never burns the nonce
    nonce = d.challenge()
    q, r = env.reportgen_one(hv, guest, nonce, regions)
    codes = {}
    for i in range(len(r)):
        rr = bytearray(r)
        rr[i] ^= 1 << random.randrange(8)
        st, j = d.submit(q, bytes(rr), ["a", "b"])
        if st == 200:
            fail("report with byte %d flipped was accepted" % i)
        codes[j["error"]] = codes.get(j["error"], 0) + 1
        acked.append(j["decision_id"])
    log("report flips: %s" % codes)
    check(set(codes) <= {"bad_report_signature", "bad_report_format", "unknown_hv_key", "hv_key_mismatch",
                         "unsupported_version"}, "flip codes: %s" % codes)
    check(codes.get("bad_report_signature", 0) > len(r) // 2, "most flips are signature failures")
    # ... and in the request
    rcodes = {}
    for i in range(len(q)):
        qq = bytearray(q)
        qq[i] ^= 1 << random.randrange(8)
        st, j = d.submit(bytes(qq), r, ["a", "b"])
        if st == 200:
            fail("request with byte %d flipped was accepted" % i)
        rcodes[j["error"]] = rcodes.get(j["error"], 0) + 1
        acked.append(j["decision_id"])
    log("request flips: %s" % rcodes)
    check(set(rcodes) <= {"bad_request_signature", "bad_request_format", "unknown_guest_key", "guest_key_mismatch",
                          "request_mismatch"}, "request flip codes: %s" % rcodes)
    # truncations
    expect_decision(d.submit(q, r[:-1], ["a", "b"]), 400, "bad_report_format", "report one byte short")
    expect_decision(d.submit(q, r + b"\0", ["a", "b"]), 400, "bad_report_format", "report one byte long")
    expect_decision(d.submit(q[:-1], r, ["a", "b"]), 400, "bad_request_format", "request one byte short")
    # the untouched pair still passes: failed attempts did not consume the nonce
    st, j = d.submit(q, r, ["a", "b"])
    check(st == 200, "untampered report accepted after the flips: %s %s" % (st, j))
    acked.append(j["decision_id"])

    # ---- wrong pairing, unknown keys, unknown / expired nonce --------------------
    n1, n2 = d.challenge(), d.challenge()
    q1, r1 = env.reportgen_one(hv, guest, n1, regions)
    q2, r2 = env.reportgen_one(hv, guest, n2, regions)
    expect_decision(d.submit(q2, r1, ["a", "b"]), 403, "request_mismatch", "request of another report")
    qx, rx = env.reportgen_one(other_hv, guest, d.challenge(), regions)
    expect_decision(d.submit(qx, rx, ["a", "b"]), 403, "unknown_hv_key", "unknown hypervisor key")
    qx, rx = env.reportgen_one(hv, other_guest, d.challenge(), regions)
    expect_decision(d.submit(qx, rx, ["a", "b"]), 403, "unknown_guest_key", "unknown guest key")
    qx, rx = env.reportgen_one(hv, guest, "%064x" % random.getrandbits(256), regions)
    expect_decision(d.submit(qx, rx, ["a", "b"]), 403, "nonce_unknown", "nonce never issued")
    ne = d.challenge(ttl_s=1)
    qe, re_ = env.reportgen_one(hv, guest, ne, regions)
    time.sleep(3)  # expiry is judged by the server clock; 1 s TTL, 3 s wait
    expect_decision(d.submit(qe, re_, ["a", "b"]), 403, "nonce_expired", "expired nonce")

    # ---- policy: regions ------------------------------------------------------------
    expect_decision(d.submit(q1, r1, ["b", "a"]), 403, "policy_region_mismatch", "names swapped")
    n = d.challenge()
    q1, r1 = env.reportgen_one(hv, guest, n, regions)
    expect_decision(d.submit(q1, r1, ["a", "nope"]), 403, "policy_region_unknown", "unknown region name")
    expect_decision(d.submit(q1, r1, ["a", "b"]), 403, "nonce_replayed",
                    "a policy failure consumed the nonce (authenticated report)")
    n = d.challenge()
    q1, r1 = env.reportgen_one(hv, guest, n, regions)
    expect_decision(d.submit(q1, r1, None), 403, "policy_region_unnamed", "unnamed regions")
    n = d.challenge()
    q1, r1 = env.reportgen_one(hv, guest, n, regions)
    expect_decision(d.submit(q1, r1, ["a", "other"]), 403, "policy_region_mismatch", "wrong reference digest")
    st, j = d.submit(q2, r2, ["a", "b"])
    check(st == 200, "second valid report: %s %s" % (st, j))
    acked.append(j["decision_id"])

    # ---- policy: flags, versions, measurements, algorithms (reloaded by SIGHUP) ------
    def reload(pol):
        env.write("policy.json", json.dumps(pol))
        st, m0 = d.request("GET", "/metrics")
        before = [l for l in m0.decode().splitlines() if l.startswith("attest_verifier_reloads_total")][0]
        d.hup()
        deadline = time.time() + 120
        while time.time() < deadline:
            st, m1 = d.request("GET", "/metrics")
            now = [l for l in m1.decode().splitlines() if l.startswith("attest_verifier_reloads_total")][0]
            if now != before:
                return
            time.sleep(0.1)
        fail("SIGHUP reload not observed")

    def attempt(pol, code, what, **gen):
        reload(pol)
        n = d.challenge()
        qq, rr = env.reportgen_one(hv, guest, n, regions, **gen)
        if code == "ok":
            st, j = d.submit(qq, rr, ["a", "b"])
            check(st == 200, "%s: %s %s" % (what, st, j))
            acked.append(j["decision_id"])
        else:
            expect_decision(d.submit(qq, rr, ["a", "b"]), 403, code, what)

    attempt(base_policy, "dev_key_rejected", "dev key report, default policy", dev_key=True)
    attempt(dict(base_policy, allow_dev_key=True), "ok", "dev key report, policy allows it", dev_key=True)
    attempt(base_policy, "dma_unprotected_rejected", "no-IOMMU report, default policy", dma_unprotected=True)
    attempt(dict(base_policy, allow_dma_unprotected=True), "ok", "no-IOMMU report, policy allows it",
            dma_unprotected=True)
    attempt(dict(base_policy, min_hv_version="200.0.0"), "hv_version_rejected", "hv version below minimum")
    attempt(dict(base_policy, hv_versions=["200.1.2"]), "hv_version_rejected", "hv version not listed")
    attempt(dict(base_policy, build_ids=["ab" * 32]), "hv_measurement_rejected", "build id not listed")
    attempt(dict(base_policy, hv_image_digests=["ab" * 32]), "hv_measurement_rejected", "image digest not listed")
    attempt(dict(base_policy, hv_config_digests=["ab" * 32]), "hv_measurement_rejected", "config digest not listed")
    attempt(dict(base_policy, hash_algs=["sha384"]), "hash_alg_rejected", "hash algorithm not allowed")
    # watched regions (docs/watch.md): "a" requires an unbroken watch
    wpol = json.loads(json.dumps(base_policy))
    wpol["regions"][0]["require_watch"] = True
    attempt(wpol, "policy_region_unwatched", "region requires a watch, the report has none")
    n = d.challenge()
    qq, rr = env.reportgen_one(hv, guest, n, regions, watch=True)
    st, j = d.submit(qq, rr, ["a", "b"])
    check(st == 200, "the START report of a watch satisfies require_watch: %s %s" % (st, j))
    acked.append(j["decision_id"])
    wc = jwt.decode(j["token"], key, algorithms=["ES256"], issuer="attest-verifier-test")["regions"][0]
    check(wc.get("watch_id", 0) >= 1 and wc.get("unmodified_since_ns", 0) > 0,
          "token claims the watch and its start: %s" % wc)
    req = json.loads(json.dumps(base_policy))
    req["regions"].append({"name": "kernel", "required": True, "digests": ["11" * 32]})
    attempt(req, "policy_region_missing", "required region not measured")
    # a bad policy file does not replace the good one
    env.write("policy.json", "{not json")
    d.hup()
    deadline = time.time() + 120
    while time.time() < deadline:
        st, m = d.request("GET", "/metrics")
        if b"attest_verifier_reload_errors_total 1" in m:
            break
        time.sleep(0.1)
    else:
        fail("bad policy reload not reported")
    attempt_pol = None
    n = d.challenge()
    qq, rr = env.reportgen_one(hv, guest, n, regions)
    expect_decision(d.submit(qq, rr, ["a", "b"]), 403, "policy_region_missing", "old policy kept after a bad reload")

    # ---- offline CLI verify ------------------------------------------------------------
    env.write("policy.json", json.dumps(base_policy))
    qf, rf = env.write("cq.bin", q2), env.write("cr.bin", r2)
    r = env.run([env.cli, "verify", "--report", rf, "--request", qf, "--policy", policy, "--hv-key", hv,
                 "--guest-key", guest, "--region-names", "a,b", "--nonce", n2], check_rc=0)
    check(json.loads(r.stdout)["verdict"] == "accept", "offline verify accepts")
    r = env.run([env.cli, "verify", "--report", rf, "--request", qf, "--config", conf, "--region-names", "a,b"], check_rc=0)
    r = env.run([env.cli, "verify", "--report", rf, "--request", qf, "--policy", policy, "--hv-key", other_hv,
                 "--guest-key", guest, "--region-names", "a,b"], check_rc=1)
    check(json.loads(r.stdout)["code"] == "unknown_hv_key", "offline: unknown hv key")
    r = env.run([env.cli, "verify", "--report", rf, "--request", qf, "--policy", policy, "--hv-key", hv,
                 "--guest-key", guest, "--region-names", "a,b", "--nonce", "00" * 32], check_rc=1)
    check(json.loads(r.stdout)["code"] == "nonce_unknown", "offline: wrong nonce")
    skew = env.write("skew.json", json.dumps(dict(base_policy, max_timestamp_skew_s=60, require_timestamp=True)))
    r = env.run([env.cli, "verify", "--report", rf, "--request", qf, "--policy", skew, "--hv-key", hv,
                 "--guest-key", guest, "--region-names", "a,b", "--now", "1"], check_rc=1)
    check(json.loads(r.stdout)["code"] == "timestamp_skew", "offline: timestamp skew")
    sub = env.write("sub.json", json.dumps({"request": b64(q2), "report": b64(r2), "region_names": ["a", "b"]}))
    env.run([env.cli, "verify", "--submission", sub, "--policy", policy, "--hv-key", hv, "--guest-key", guest], check_rc=0)
    r = env.run([env.cli, "verify", "--report", env.path("missing.bin"), "--request", qf, "--policy", policy,
                 "--hv-key", hv], check_rc=2)
    check("cannot read" in r.stderr, "missing file: clear error")

    # ---- revoke: the hypervisor key stops working after SIGHUP ---------------------------
    env.cli_run("revoke", "--config", conf, hv_id)
    reload(base_policy)
    n = d.challenge()
    qq, rr = env.reportgen_one(hv, guest, n, regions)
    expect_decision(d.submit(qq, rr, ["a", "b"]), 403, "unknown_hv_key", "revoked key")

    # ---- every answered decision is in the audit log -----------------------------------
    rows = audit(env, db)
    ids = {x["decision_id"]: x for x in rows}
    missing = [a for a in acked if a not in ids]
    check(not missing, "%d answered decisions missing from the audit log" % len(missing))
    check(all(x["replica"] == "api" for x in rows), "replica recorded")
    accepted = [x for x in rows if x["verdict"] == "accept"]
    check(all(x["code"] == "ok" and x["evidence"]["regions"][0]["verdict"] == "match" for x in accepted),
          "accept rows carry evidence")
    log("PASS: %d decisions checked, %d audit rows" % (len(acked), len(rows)))
finally:
    env.cleanup()
