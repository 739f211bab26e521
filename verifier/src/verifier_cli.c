/*
 * attest-verifier - offline companion of attest-verifierd (docs/verifier.md):
 * verify a report offline, enroll/revoke/list keys, check a policy, dump the
 * audit log, create the schema, make a token signing key.
 * Exit status: 0 success/accepted, 1 rejected or failed, 2 usage error,
 * 3 (enroll) a credential challenge was issued, the key is not enrolled yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "config.h"
#include "ek_challenge.h"
#include "evidence.h"
#include "policy.h"
#include "store.h"
#include "token.h"
#include "vcrypto.h"
#include "vutil.h"

#define EX_USAGE_ 2

static const char *prog = "attest-verifier";

static void top_usage(FILE *f)
{
	fprintf(f,
		"usage: attest-verifier COMMAND [OPTIONS]   (COMMAND --help for details)\n"
		"\n"
		"Commands:\n"
		"  verify        verify a report (+ request) offline, print the decision as JSON\n"
		"  enroll        enroll a hypervisor or guest public key in the verifier's storage\n"
		"  revoke        revoke an enrolled key\n"
		"  keys          list enrolled keys\n"
		"  key-id        print the key id (SHA-256 of the SPKI DER) of a PEM key\n"
		"  policy-check  validate a policy file and summarize it\n"
		"  audit         print the audit log as JSON lines\n"
		"  init          create the storage schema\n"
		"  token-keygen  create an ES256 (P-256) token signing key\n"
		"Storage comes from --config FILE (default /etc/attest-verifier/verifier.json)\n"
		"or --storage URL (sqlite:PATH, postgresql://..., pg:CONNINFO).\n");
}

static int die_usage(const char *cmd, const char *msg)
{
	fprintf(stderr, "%s %s: %s (see %s %s --help)\n", prog, cmd, msg, prog, cmd);
	return EX_USAGE_;
}

/* --config / --storage handling shared by the storage commands */
struct common {
	const char *config, *storage;
	bool config_given;
};

static struct v_store *open_store(const char *cmd, struct common *co, struct v_config *cfg)
{
	char err[1024];
	if (v_config_load(cfg, (co->config_given || !co->storage) ? co->config : NULL, err, sizeof err)) {
		fprintf(stderr, "%s %s: config: %s\n", prog, cmd, err);
		return NULL;
	}
	if (co->storage)
		snprintf(cfg->storage, sizeof cfg->storage, "%s", co->storage);
	/* only init creates the schema (PostgreSQL: as the owner); the other
	 * commands use it as it is (SQLite: created on first use) */
	struct v_store *st = v_store_open(cfg->storage, err, sizeof err);
	if (!st || (!strcmp(cmd, "init") ? v_store_init(st, err, sizeof err) : v_store_attach(st, err, sizeof err))) {
		fprintf(stderr, "%s %s: storage: %s\n", prog, cmd, err);
		v_store_close(st);
		return NULL;
	}
	return st;
}

#define COMMON_OPTS {"config", required_argument, 0, 'c'}, {"storage", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}

static int common_opt(int ch, struct common *co)
{
	if (ch == 'c') {
		co->config = optarg;
		co->config_given = true;
		return 1;
	}
	if (ch == 's') {
		co->storage = optarg;
		return 1;
	}
	return 0;
}

/* ---- enroll / revoke / keys / key-id / init / audit ----------------------- */
/* Options of the commands that take only --config/--storage/--help: -1 to
 * go on (optind at the first operand), else the command's exit status. */
static int common_only(int argc, char **argv, const char *cmd, const char *help,
		       struct common *co)
{
	static const struct option o[] = {COMMON_OPTS, {0, 0, 0, 0}};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:s:h", o, NULL)) != -1) {
		if (common_opt(ch, co))
			continue;
		if (ch == 'h') {
			fputs(help, stdout);
			return 0;
		}
		return die_usage(cmd, "bad option");
	}
	return -1;
}

/* The audit record's view of who changed a key. */
static void key_change_actor(struct v_key_change *kc, const struct v_config *cfg, char *actor, size_t n)
{
	const struct passwd *pw = getpwuid(geteuid());
	if (pw)
		snprintf(actor, n, "cli:%s", pw->pw_name);
	else
		snprintf(actor, n, "cli:uid %u", (unsigned)geteuid());
	kc->replica = cfg->replica_id;
	kc->actor = actor;
}

/* What `enroll hv` is told about the key's TPM evidence. */
struct ek_opts {
	const char *dir, *challenge, *state, *answer;
	bool insecure;
	struct v_ek_trust tr;
};

/* --pcr N=HEX for N in 0, 4, 8 (SHA-256). */
static int ek_pcr_opt(struct v_ek_trust *tr, const char *arg)
{
	static const unsigned idx[] = {0, 4, 8};
	char *eq = strchr(arg, '=');
	for (unsigned i = 0; eq && i < 3; i++)
		if ((unsigned)strtoul(arg, NULL, 10) == idx[i] && eq - arg <= 2 && arg[0] >= '0' && arg[0] <= '9') {
			if (v_unhex(tr->pcr[i], 32, eq + 1) != 32)
				return -1;
			tr->pcr_set |= 1u << i;
			return 0;
		}
	return -1;
}

/* The gate of `enroll hv` (docs/operator-verifier.md "Enrollment"): the
 * evidence checked, then a credential issued (exit 3) or its answer checked.
 * 0 lets the enrollment proceed, with kc's enrollment and evidence set. */
static int ek_gate(struct ek_opts *eo, const uint8_t id[32], struct v_key_change *kc, char *json, size_t jn)
{
	struct v_ek_result res;
	char err[512], an[69], ec[65];
	if (eo->insecure && !eo->dir) {
		kc->enrollment = "insecure-no-evidence";
		return 0;
	}
	if (!eo->dir || eo->insecure) {
		fprintf(stderr, "%s enroll: a hypervisor key needs TPM evidence (--ek-evidence DIR --ek-ca FILE --pcr 0=.. "
				"--pcr 4=.. --pcr 8=.. --state FILE, then --challenge or --answer), or "
				"--insecure-no-evidence alone\n", prog);
		return 1;
	}
	if (!eo->state || !!eo->challenge == !!eo->answer) {
		fprintf(stderr, "%s enroll: --ek-evidence needs --state and one of --challenge OUT or --answer FILE\n", prog);
		return EX_USAGE_;
	}
	if (v_ek_check(eo->dir, id, &eo->tr, &res, err, sizeof err)) {
		fprintf(stderr, "%s enroll: evidence refused: %s\n", prog, err);
		return 1;
	}
	int rc = eo->challenge ? v_ek_challenge(&res, id, eo->challenge, eo->state, err, sizeof err)
			       : v_ek_answer(&res, id, eo->state, eo->answer, err, sizeof err);
	EVP_PKEY_free(res.ek);
	if (rc) {
		fprintf(stderr, "%s enroll: evidence refused: %s\n", prog, err);
		return 1;
	}
	if (eo->challenge) {
		printf("challenge written to %s: place it at \\attest-hv\\tpm\\credential.bin, boot once, then run enroll "
		       "again with --answer (\\attest-hv\\tpm\\credential.ans)\n", eo->challenge);
		return 3;
	}
	v_hex(an, res.ak_name, 34);
	v_hex(ec, res.ek_cert_sha256, 32);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "enrollment", "tpm-ek", "ek_issuer", res.ek_subject,
			      "ek_cert_sha256", ec, "ak_name", an);
	char *d = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	snprintf(json, jn, "%s", d ? d : "{}");
	free(d);
	json_decref(o);
	kc->evidence = json;
	kc->enrollment = "tpm-ek";
	return 0;
}

static int cmd_enroll(int argc, char **argv)
{
	struct common co = {"/etc/attest-verifier/verifier.json", NULL, false};
	const char *name = NULL;
	struct v_key_change kc = {0};
	struct ek_opts eo;
	char evjson[512];
	memset(&eo, 0, sizeof eo);
	static const struct option o[] = {COMMON_OPTS, {"name", required_argument, 0, 'n'},
					  {"unrevoke", no_argument, 0, 'U'},
					  {"insecure-no-evidence", no_argument, 0, 'I'},
					  {"ek-evidence", required_argument, 0, 'E'},
					  {"ek-ca", required_argument, 0, 'A'},
					  {"ek-intermediate", required_argument, 0, 'M'},
					  {"pcr", required_argument, 0, 'P'},
					  {"challenge", required_argument, 0, 'C'},
					  {"state", required_argument, 0, 'S'},
					  {"answer", required_argument, 0, 'R'}, {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:s:hn:", o, NULL)) != -1) {
		if (common_opt(ch, &co))
			continue;
		if (ch == 'n')
			name = optarg;
		else if (ch == 'U')
			kc.unrevoke = true;
		else if (ch == 'I')
			eo.insecure = true;
		else if (ch == 'E')
			eo.dir = optarg;
		else if (ch == 'C')
			eo.challenge = optarg;
		else if (ch == 'S')
			eo.state = optarg;
		else if (ch == 'R')
			eo.answer = optarg;
		else if (ch == 'A' && eo.tr.n_roots < V_EK_MAX_FILES)
			eo.tr.roots[eo.tr.n_roots++] = optarg;
		else if (ch == 'M' && eo.tr.n_intermediates < V_EK_MAX_FILES)
			eo.tr.intermediates[eo.tr.n_intermediates++] = optarg;
		else if (ch == 'P') {
			if (ek_pcr_opt(&eo.tr, optarg))
				return die_usage("enroll", "--pcr takes N=HEX, N one of 0, 4, 8, HEX 64 digits (SHA-256)");
		} else if (ch == 'h') {
			printf("usage: attest-verifier enroll [--config FILE | --storage URL] [--name NAME] [--unrevoke]\n"
			       "         guest KEY.pem\n"
			       "         hv KEY.pem --ek-evidence DIR --ek-ca ROOT.pem [--ek-intermediate CA.pem]\n"
			       "            --pcr 0=HEX --pcr 4=HEX --pcr 8=HEX --state FILE (--challenge OUT | --answer FILE)\n"
			       "         hv KEY.pem --insecure-no-evidence\n"
			       "Enrolls the public part of KEY.pem (EC P-256 or P-384; public SPKI or private\n"
			       "PEM) as a hypervisor (report-signing) or guest (request-signing) key, and\n"
			       "prints its key id. A hypervisor key needs its TPM evidence (the loader's\n"
			       "\\attest-hv\\tpm: ek.crt, ak.pub, quote.msg, quote.sig): the EK certificate\n"
			       "must chain to an --ek-ca root, the AK's quote must name this key (SHA-256 of\n"
			       "its SPKI) and PCRs 0, 4, 8 equal to the --pcr references. With --challenge,\n"
			       "a credential for that EK and AK is written (exit 3); the loader answers it\n"
			       "on the next boot (credential.ans) and enroll --answer completes. The key's\n"
			       "record says tpm-ek, or insecure-no-evidence. A revoked key is refused unless\n"
			       "--unrevoke is given. Every enrollment is recorded in the audit log.\n");
			return 0;
		} else
			return die_usage("enroll", "bad option");
	}
	if (argc - optind != 2)
		return die_usage("enroll", "expected KIND and KEY.pem");
	const char *kind = argv[optind], *path = argv[optind + 1];
	int k = !strcmp(kind, "hv") || !strcmp(kind, "hypervisor") ? V_KEY_HV : !strcmp(kind, "guest") ? V_KEY_GUEST : 0;
	if (!k)
		return die_usage("enroll", "KIND must be hv or guest");
	if (k == V_KEY_GUEST && (eo.dir || eo.insecure))
		return die_usage("enroll", "TPM evidence is for hypervisor keys");
	size_t len;
	uint8_t *pem = v_read_file(path, &len, 1 << 20);
	if (!pem) {
		fprintf(stderr, "%s enroll: cannot read %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	EVP_PKEY *pk = NULL;
	unsigned alg;
	uint8_t id[32];
	char *spki = NULL, err[512], hex[65];
	vc_init();
	int rc = vc_load_pubkey((const char *)pem, len, &pk, &alg, id, &spki, err, sizeof err);
	free(pem);
	if (rc) {
		fprintf(stderr, "%s enroll: %s: %s\n", prog, path, err);
		return 1;
	}
	EVP_PKEY_free(pk);
	kc.enrollment = "operator";
	if (k == V_KEY_HV && (rc = ek_gate(&eo, id, &kc, evjson, sizeof evjson)) != 0) {
		free(spki);
		return rc;
	}
	v_hex(hex, id, 32);
	struct v_config cfg;
	struct v_store *st = open_store("enroll", &co, &cfg);
	if (!st) {
		free(spki);
		return 1;
	}
	char actor[80];
	key_change_actor(&kc, &cfg, actor, sizeof actor);
	rc = v_store_key_add(st, k, hex, alg, spki, name ? name : path, &kc, err, sizeof err);
	free(spki);
	v_store_close(st);
	if (rc) {
		fprintf(stderr, "%s enroll: %s\n", prog, err);
		return 1;
	}
	printf("%s\n", hex);
	return 0;
}

static int cmd_revoke(int argc, char **argv)
{
	struct common co = {"/etc/attest-verifier/verifier.json", NULL, false};
	int rc0 = common_only(argc, argv, "revoke",
			      "usage: attest-verifier revoke [--config FILE | --storage URL] KEY_ID\n"
			      "Marks an enrolled key revoked: every daemon on this storage refuses it from\n"
			      "its next request on. Recorded in the audit log.\n", &co);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return die_usage("revoke", "expected KEY_ID (64 hex digits)");
	uint8_t id[32];
	if (v_unhex(id, 32, argv[optind]) != 32)
		return die_usage("revoke", "KEY_ID must be 64 hex digits");
	char hex[65], err[512];
	v_hex(hex, id, 32);
	struct v_config cfg;
	struct v_store *st = open_store("revoke", &co, &cfg);
	if (!st)
		return 1;
	struct v_key_change kc = {0};
	char actor[80];
	key_change_actor(&kc, &cfg, actor, sizeof actor);
	int rc = v_store_key_revoke(st, hex, &kc, err, sizeof err);
	v_store_close(st);
	if (rc) {
		fprintf(stderr, "%s revoke: %s\n", prog, err);
		return 1;
	}
	return 0;
}

static int cmd_keys(int argc, char **argv)
{
	struct common co = {"/etc/attest-verifier/verifier.json", NULL, false};
	int rc0 = common_only(argc, argv, "keys",
			      "usage: attest-verifier keys [--config FILE | --storage URL]\n"
			      "Lists enrolled keys: kind, key id, curve, name, state.\n", &co);
	if (rc0 >= 0)
		return rc0;
	if (optind != argc)
		return die_usage("keys", "unexpected argument");
	struct v_config cfg;
	struct v_store *st = open_store("keys", &co, &cfg);
	if (!st)
		return 1;
	int rc = v_store_keys_list(st, stdout);
	if (rc)
		fprintf(stderr, "%s keys: %s\n", prog, v_store_errmsg(st));
	v_store_close(st);
	return rc ? 1 : 0;
}

static int cmd_key_id(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: attest-verifier key-id KEY.pem\n"
		       "Prints SHA-256 of the key's SubjectPublicKeyInfo DER (protocol.md §8.2).\n");
		return 0;
	}
	if (argc != 2)
		return die_usage("key-id", "expected KEY.pem");
	size_t len;
	uint8_t *pem = v_read_file(argv[1], &len, 1 << 20);
	if (!pem) {
		fprintf(stderr, "%s key-id: cannot read %s: %s\n", prog, argv[1], strerror(errno));
		return 1;
	}
	EVP_PKEY *pk;
	unsigned alg;
	uint8_t id[32];
	char err[256], hex[65];
	vc_init();
	int rc = vc_load_pubkey((const char *)pem, len, &pk, &alg, id, NULL, err, sizeof err);
	free(pem);
	if (rc) {
		fprintf(stderr, "%s key-id: %s: %s\n", prog, argv[1], err);
		return 1;
	}
	EVP_PKEY_free(pk);
	v_hex(hex, id, 32);
	printf("%s\n", hex);
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	struct common co = {"/etc/attest-verifier/verifier.json", NULL, false};
	const char *grant = NULL;
	static const struct option o[] = {COMMON_OPTS, {"grant", required_argument, 0, 'g'}, {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:s:hg:", o, NULL)) != -1) {
		if (common_opt(ch, &co))
			continue;
		if (ch == 'g')
			grant = optarg;
		else if (ch == 'h') {
			printf("usage: attest-verifier init [--config FILE | --storage URL] [--grant ROLE]\n"
			       "Creates tables, append-only triggers and indexes (idempotent). PostgreSQL:\n"
			       "run it as the tables' owner; --grant ROLE gives the daemon's role its least\n"
			       "privileges (SELECT on keys, SELECT/INSERT on nonces, nonce_uses, audit,\n"
			       "EXECUTE on the nonce retention function). The daemon runs no DDL.\n");
			return 0;
		} else
			return die_usage("init", "bad option");
	}
	if (optind != argc)
		return die_usage("init", "unexpected argument");
	struct v_config cfg;
	struct v_store *st = open_store("init", &co, &cfg);
	if (!st)
		return 1;
	char err[512];
	if (grant && v_store_grant(st, grant, err, sizeof err)) {
		fprintf(stderr, "%s init: --grant %s: %s\n", prog, grant, err);
		v_store_close(st);
		return 1;
	}
	printf("storage %s ready%s%s\n", v_store_kind(st), grant ? ", privileges granted to " : "", grant ? grant : "");
	v_store_close(st);
	return 0;
}

static int cmd_audit(int argc, char **argv)
{
	struct common co = {"/etc/attest-verifier/verifier.json", NULL, false};
	int64_t since = 0, limit = 0;
	static const struct option o[] = {COMMON_OPTS, {"since", required_argument, 0, 'S'}, {"limit", required_argument, 0, 'L'}, {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:s:h", o, NULL)) != -1) {
		if (common_opt(ch, &co))
			continue;
		char *end;
		if (ch == 'S' || ch == 'L') {
			long long x = strtoll(optarg, &end, 10);
			if (*end || x < 0)
				return die_usage("audit", "--since/--limit need a non-negative integer");
			*(ch == 'S' ? &since : &limit) = x;
		} else if (ch == 'h') {
			printf("usage: attest-verifier audit [--config FILE | --storage URL] [--since SEQ] [--limit N]\n"
			       "Prints audit records with seq > SEQ as JSON lines, oldest first.\n");
			return 0;
		} else
			return die_usage("audit", "bad option");
	}
	if (optind != argc)
		return die_usage("audit", "unexpected argument");
	struct v_config cfg;
	struct v_store *st = open_store("audit", &co, &cfg);
	if (!st)
		return 1;
	int rc = v_store_audit_dump(st, stdout, since, limit);
	if (rc)
		fprintf(stderr, "%s audit: %s\n", prog, v_store_errmsg(st));
	v_store_close(st);
	return rc ? 1 : 0;
}

static int cmd_token_keygen(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: attest-verifier token-keygen OUT.pem\n"
		       "Writes a new EC P-256 private key (mode 0600) for signing tokens (ES256).\n"
		       "Refuses to overwrite an existing file.\n");
		return 0;
	}
	if (argc != 2)
		return die_usage("token-keygen", "expected OUT.pem");
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	if (!pk) {
		fprintf(stderr, "%s token-keygen: key generation failed\n", prog);
		return 1;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		fprintf(stderr, "%s token-keygen: cannot create %s: %s\n", prog, argv[1], strerror(errno));
		EVP_PKEY_free(pk);
		return 1;
	}
	int ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1;
	ok &= fclose(f) == 0;
	EVP_PKEY_free(pk);
	if (!ok) {
		fprintf(stderr, "%s token-keygen: cannot write %s\n", prog, argv[1]);
		return 1;
	}
	return 0;
}

static int cmd_policy_check(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: attest-verifier policy-check POLICY.json\n"
		       "Parses the policy as the daemon would; prints a summary, or the first error\n"
		       "(exit 1).\n");
		return 0;
	}
	if (argc != 2)
		return die_usage("policy-check", "expected POLICY.json");
	char err[512];
	vc_init();
	struct v_policy *p = v_policy_load(argv[1], err, sizeof err);
	if (!p) {
		fprintf(stderr, "%s policy-check: %s\n", prog, err);
		return 1;
	}
	printf("%s: ok\n", argv[1]);
	v_policy_print(p, stdout);
	v_policy_free(p);
	return 0;
}

/* ---- verify -------------------------------------------------------------- */
static int load_blob(const char *path, uint8_t *out, size_t cap, size_t *len)
{
	size_t l;
	uint8_t *b = v_read_file(path, &l, cap);
	if (!b) {
		fprintf(stderr, "%s verify: cannot read %s: %s\n", prog, path, errno == EFBIG ? "larger than any valid blob" : strerror(errno));
		return -1;
	}
	memcpy(out, b, l);
	*len = l;
	free(b);
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	struct common co = {"/etc/attest-verifier/verifier.json", NULL, false};
	const char *report = NULL, *request = NULL, *submission = NULL, *policy = NULL, *nonce = NULL, *names = NULL;
	const char *hv[16], *guest[16];
	int nhv = 0, ng = 0;
	int64_t now = -1;
	static const struct option o[] = {
		COMMON_OPTS, {"report", required_argument, 0, 'r'}, {"request", required_argument, 0, 'q'},
		{"submission", required_argument, 0, 'S'}, {"policy", required_argument, 0, 'p'},
		{"hv-key", required_argument, 0, 'H'}, {"guest-key", required_argument, 0, 'G'},
		{"nonce", required_argument, 0, 'N'}, {"region-names", required_argument, 0, 'R'},
		{"now", required_argument, 0, 'T'}, {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:s:h", o, NULL)) != -1) {
		if (common_opt(ch, &co))
			continue;
		switch (ch) {
		case 'r': report = optarg; break;
		case 'q': request = optarg; break;
		case 'S': submission = optarg; break;
		case 'p': policy = optarg; break;
		case 'N': nonce = optarg; break;
		case 'R': names = optarg; break;
		case 'T': {
			char *end;
			now = strtoll(optarg, &end, 10);
			if (*end || now < 0)
				return die_usage("verify", "--now needs seconds since the epoch");
			break;
		}
		case 'H':
			if (nhv == 16)
				return die_usage("verify", "at most 16 --hv-key");
			hv[nhv++] = optarg;
			break;
		case 'G':
			if (ng == 16)
				return die_usage("verify", "at most 16 --guest-key");
			guest[ng++] = optarg;
			break;
		case 'h':
			printf("usage: attest-verifier verify (--report P.bin --request R.bin | --submission S.json)\n"
			       "                             [--policy POLICY.json] [--hv-key PEM]... [--guest-key PEM]...\n"
			       "                             [--config FILE | --storage URL] [--nonce HEX]\n"
			       "                             [--region-names a,b,,c] [--now UNIX_SECONDS]\n"
			       "Runs every check attest-verifierd runs except nonce bookkeeping: with --nonce\n"
			       "the report's nonce must equal HEX. Keys come from --hv-key/--guest-key files,\n"
			       "or from storage when --config/--storage is given (or no key file is).\n"
			       "The policy is --policy, else the config's. Prints the decision as JSON.\n"
			       "Exit status: 0 accepted, 1 rejected, 2 usage or input error.\n");
			return 0;
		default:
			return die_usage("verify", "bad option");
		}
	}
	if (optind != argc)
		return die_usage("verify", "unexpected argument");
	if (!submission && (!report || !request))
		return die_usage("verify", "need --report and --request, or --submission");
	vc_init();
	struct v_submission *sub = calloc(1, sizeof *sub);
	struct v_decision dec;
	memset(&dec, 0, sizeof dec);
	char err[1024];
	int rc = EX_USAGE_;
	struct v_keyset ks = {0};
	struct v_policy *pol = NULL;
	struct v_config cfg;
	if (!sub)
		return 1;
	if (submission) {
		size_t l;
		uint8_t *b = v_read_file(submission, &l, 16 << 20);
		if (!b) {
			fprintf(stderr, "%s verify: cannot read %s: %s\n", prog, submission, strerror(errno));
			goto out;
		}
		enum v_err e = v_parse_submission((const char *)b, l, sub, err, sizeof err);
		free(b);
		if (e) {
			fprintf(stderr, "%s verify: %s: %s: %s\n", prog, submission, v_err_code(e), err);
			goto out;
		}
	} else if (load_blob(report, sub->report, sizeof sub->report, &sub->report_len) ||
		   load_blob(request, sub->request, sizeof sub->request, &sub->request_len))
		goto out;
	if (names) {
		sub->has_names = true;
		const char *p = names;
		for (;;) {
			const char *comma = strchr(p, ',');
			size_t l = comma ? (size_t)(comma - p) : strlen(p);
			if (sub->n_names == AHV_MAX_REGIONS || l > V_NAME_MAX) {
				die_usage("verify", "--region-names: at most 64 names of at most 64 bytes");
				goto out;
			}
			memcpy(sub->names[sub->n_names], p, l);
			sub->names[sub->n_names++][l] = 0;
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	for (int i = 0; i < nhv + ng; i++) {
		const char *path = i < nhv ? hv[i] : guest[i - nhv];
		size_t l;
		uint8_t *pem = v_read_file(path, &l, 1 << 20);
		if (!pem || v_keyset_add_pem(&ks, i < nhv ? V_KEY_HV : V_KEY_GUEST, (const char *)pem, l, path, err, sizeof err)) {
			fprintf(stderr, "%s verify: %s: %s\n", prog, path, pem ? err : strerror(errno));
			free(pem);
			goto out;
		}
		free(pem);
	}
	bool use_store = co.config_given || co.storage || (nhv + ng == 0);
	if (use_store || !policy) {
		if (v_config_load(&cfg, co.config_given || !co.storage ? co.config : NULL, err, sizeof err)) {
			fprintf(stderr, "%s verify: config: %s\n", prog, err);
			goto out;
		}
	}
	if (use_store) {
		struct v_store *st = open_store("verify", &co, &cfg);
		if (!st)
			goto out;
		int r = v_store_keys_load(st, &ks, err, sizeof err);
		v_store_close(st);
		if (r) {
			fprintf(stderr, "%s verify: keys: %s\n", prog, err);
			goto out;
		}
	}
	pol = v_policy_load(policy ? policy : cfg.policy, err, sizeof err);
	if (!pol) {
		fprintf(stderr, "%s verify: policy: %s\n", prog, err);
		goto out;
	}
	uint64_t now_ns = now >= 0 ? (uint64_t)now * 1000000000u : v_now_ns();
	enum v_err e = v_verify(sub, &ks, pol, now_ns, &dec);
	if (e == V_OK && nonce) {
		uint8_t nb[64];
		long nl = v_unhex(nb, sizeof nb, nonce);
		struct ahv_report_hdr hb;
		const struct ahv_report_hdr *h = &hb;
		ahv_wire_get_report_hdr(sub->report, &hb);
		if (nl < 0) {
			die_usage("verify", "--nonce must be hex");
			goto out;
		}
		if ((unsigned)nl != h->nonce_len || memcmp(nb, h->nonce, (size_t)nl)) {
			e = dec.err = V_E_NONCE_UNKNOWN;
			snprintf(dec.detail, sizeof dec.detail, "the report's nonce differs from --nonce");
		}
	}
	json_t *out = json_pack("{s:s,s:s,s:s}", "verdict", e == V_OK ? "accept" : "reject", "code", v_err_code(e),
				"detail", e == V_OK ? "" : dec.detail);
	if (dec.n) {
		json_t *ev = v_decision_json(sub, &dec, pol);
		json_object_set_new(ev, "authenticated", json_boolean(dec.authenticated));
		json_object_set_new(out, "evidence", ev);
	}
	char *s = json_dumps(out, JSON_INDENT(2));
	json_decref(out);
	printf("%s\n", s ? s : "{}");
	free(s);
	rc = e == V_OK ? 0 : 1;
out:
	v_keyset_free(&ks);
	v_policy_free(pol);
	free(sub);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		top_usage(stderr);
		return EX_USAGE_;
	}
	const char *c = argv[1];
	if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
		top_usage(stdout);
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"verify", cmd_verify}, {"enroll", cmd_enroll}, {"revoke", cmd_revoke}, {"keys", cmd_keys},
		    {"key-id", cmd_key_id}, {"policy-check", cmd_policy_check}, {"audit", cmd_audit},
		    {"init", cmd_init}, {"token-keygen", cmd_token_keygen}};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(c, cmds[i].name)) {
			optind = 1;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "%s: unknown command \"%s\"\n", prog, c);
	top_usage(stderr);
	return EX_USAGE_;
}
