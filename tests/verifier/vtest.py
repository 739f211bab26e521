"""Shared helpers for the verifier tests (label `verifier`).

Everything runs over real HTTP on loopback against real attest-verifierd
processes, with real SQLite files and a real PostgreSQL server started in a
temporary folder. Valid reports come from ahv-reportgen (never from code of
our own); tokens are checked with PyJWT (python3-jwt), not with our code.
"""
import base64
import http.client
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def log(*a):
    print(*a, flush=True)


def fail(msg):
    log("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Env:
    """Paths handed over by CMake (environment) and a scratch folder."""

    def __init__(self, name):
        self.daemon = os.environ["AHV_VERIFIERD"]
        self.cli = os.environ["AHV_VERIFIER_CLI"]
        self.reportgen = os.environ.get("AHV_DEV_REPORTGEN") or os.environ.get("AHV_REPORTGEN", "")
        self.tmp = tempfile.mkdtemp(prefix="ahv-%s-" % name)
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.pg = None

    def have_reportgen(self):
        return bool(self.reportgen) and os.access(self.reportgen, os.X_OK)

    def require_reportgen(self):
        if not self.have_reportgen():
            log("SKIP: ahv-reportgen not built (%s); valid reports are needed" % (self.reportgen or "unset"))
            self.cleanup()
            sys.exit(SKIP)

    def path(self, *p):
        return os.path.join(self.tmp, *p)

    def run(self, args, check_rc=None, input=None):
        r = subprocess.run(args, capture_output=True, text=True, input=input, timeout=600)
        if check_rc is not None and r.returncode != check_rc:
            fail("%s exited %d (wanted %d)\nstdout: %s\nstderr: %s" % (
                " ".join(args), r.returncode, check_rc, r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def cli_run(self, *args, rc=0):
        return self.run([self.cli] + list(args), check_rc=rc)

    def genkey(self, name, curve="prime256v1"):
        p = self.path(name)
        self.run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", p], check_rc=0)
        return p

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return p

    # -- daemons ------------------------------------------------------------
    def config(self, name, storage, policy, token_key, **extra):
        # the per-client abuse limits are off unless a test sets them: every
        # test client is 127.0.0.1 (test_abuse_limits.py tests the limits)
        c = {"listen": "127.0.0.1", "port": 0, "storage": storage, "policy": policy,
             "token_key": token_key, "replica_id": name, "issuer": "attest-verifier-test",
             "client_requests_per_s": 0, "client_nonces_per_s": 0, "client_unauth_audits_per_s": 0}
        c.update(extra)
        return self.write(name + ".json", json.dumps(c))

    def start(self, config, name):
        pf = self.path(name + ".port")
        if os.path.exists(pf):
            os.unlink(pf)
        logf = open(self.path(name + ".log"), "a")
        p = subprocess.Popen([self.daemon, "--config", config, "--port-file", pf],
                             stdout=logf, stderr=subprocess.STDOUT)
        self.procs.append(p)
        deadline = time.time() + 120
        while not os.path.exists(pf):
            if p.poll() is not None:
                fail("daemon %s exited %d:\n%s" % (name, p.returncode, open(self.path(name + ".log")).read()[-3000:]))
            if time.time() > deadline:
                fail("daemon %s did not start" % name)
            time.sleep(0.05)
        port = int(open(pf).read())
        return Daemon(self, p, port, name)

    # -- reports --------------------------------------------------------------
    def reportgen_one(self, hv, guest, nonce_hex, regions, alg=None, dev_key=False, dma_unprotected=False,
                      watch=False):
        q, r = self.path("q.bin"), self.path("r.bin")
        args = [self.reportgen, "--hv-key", hv, "--guest-key", guest, "--nonce", nonce_hex]
        if alg:
            args += ["--alg", alg]
        if dev_key:
            args += ["--dev-key"]
        if dma_unprotected:
            args += ["--dma-unprotected"]
        if watch:
            args += ["--watch"]
        for reg in regions:
            args += ["--region", reg]
        args += ["--out-request", q, "--out-report", r]
        self.run(args, check_rc=0)
        return open(q, "rb").read(), open(r, "rb").read()

    def reportgen_many(self, hv, guest, nonces, regions):
        nf = self.write("nonces-%d.txt" % random.randrange(1 << 30), "\n".join(nonces) + "\n")
        out = nf + ".jsonl"
        args = [self.reportgen, "--hv-key", hv, "--guest-key", guest, "--nonces", nf]
        for reg in regions:
            args += ["--region", reg]
        args += ["--jsonl", out]
        self.run(args, check_rc=0)
        res = [json.loads(l) for l in open(out) if l.strip()]
        check(len(res) == len(nonces), "reportgen wrote %d lines for %d nonces" % (len(res), len(nonces)))
        return res

    # -- PostgreSQL -----------------------------------------------------------
    def start_postgres(self):
        bindir = "/usr/lib/postgresql/15/bin"
        if not os.path.exists(bindir + "/initdb"):
            log("SKIP: PostgreSQL 15 server binaries not installed")
            self.cleanup()
            sys.exit(SKIP)
        d = self.path("pg")
        os.mkdir(d)
        pre = []
        if os.geteuid() == 0:
            user = "postgres"
            try:
                pw = pwd.getpwnam(user)
            except KeyError:
                pw = pwd.getpwnam("nobody")
                user = "nobody"
            os.chown(d, pw.pw_uid, pw.pw_gid)
            pre = ["runuser", "-u", user, "--"]
        r = subprocess.run(pre + [bindir + "/initdb", "-D", d + "/data", "-A", "trust", "-U", "postgres",
                                  "--no-instructions"], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            fail("initdb failed: " + r.stderr[-2000:])
        for attempt in range(5):
            port = free_port()
            r = subprocess.run(pre + [bindir + "/pg_ctl", "-D", d + "/data", "-l", d + "/log", "-w", "-t", "300",
                                      "-o", "-k %s -h 127.0.0.1 -p %d -c max_connections=50" % (d, port), "start"],
                               capture_output=True, text=True, timeout=600)
            if r.returncode == 0:
                break
        else:
            fail("pg_ctl start failed: %s\n%s" % (r.stderr[-2000:], open(d + "/log").read()[-2000:]))
        self.pg = (pre, bindir, d)
        self.pg_port = port
        return "postgresql://postgres@127.0.0.1:%d/postgres" % port

    def pg_ctl(self, action, mode="immediate"):
        """stop (-m immediate: a crash) or start the test server, same port."""
        pre, bindir, d = self.pg
        args = [bindir + "/pg_ctl", "-D", d + "/data", "-l", d + "/log", "-w", "-t", "300"]
        if action == "stop":
            args += ["-m", mode]
        else:
            args += ["-o", "-k %s -h 127.0.0.1 -p %d -c max_connections=50" % (d, self.pg_port)]
        r = subprocess.run(pre + args + [action], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            fail("pg_ctl %s: %s" % (action, r.stderr[-2000:]))

    def psql(self, url, sql):
        """Run SQL with psql; returns the CompletedProcess (not checked)."""
        return self.run(["psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", url, "-c", sql])

    def stop_postgres(self):
        if self.pg:
            pre, bindir, d = self.pg
            subprocess.run(pre + [bindir + "/pg_ctl", "-D", d + "/data", "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=300)
            self.pg = None

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.stop_postgres()
        if os.environ.get("AHV_KEEP_TMP"):
            log("kept " + self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Daemon:
    def __init__(self, env, proc, port, name):
        self.env, self.proc, self.port, self.name = env, proc, port, name

    def request(self, method, path, body=None, headers=None, timeout=300):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            ctype = r.getheader("Content-Type", "")
            return r.status, (json.loads(data) if ctype.startswith("application/json") and data else data)
        finally:
            c.close()

    def challenge(self, count=None, ttl_s=None):
        b = {}
        if count:
            b["count"] = count
        if ttl_s:
            b["ttl_s"] = ttl_s
        st, j = self.request("POST", "/v1/challenge", json.dumps(b) if b else None,
                             {"Content-Type": "application/json"} if b else {})
        check(st == 200, "challenge: %s %s" % (st, j))
        return j["nonces"] if count else j["nonce"]

    def submit(self, request, report, names=None, raw=None, ctype="application/json"):
        if raw is None:
            b = {"request": request if isinstance(request, str) else b64(request),
                 "report": report if isinstance(report, str) else b64(report)}
            if names is not None:
                b["region_names"] = names
            raw = json.dumps(b)
        h = {"Content-Type": ctype} if ctype else {}
        return self.request("POST", "/v1/attest", raw, h)

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)


def b64(b):
    return base64.b64encode(b).decode()


def audit(env, storage):
    r = env.cli_run("audit", "--storage", storage)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
