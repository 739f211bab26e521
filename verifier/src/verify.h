/*
 * verify.h - enrolled keys and the verification pipeline of one submission
 * (protocol.md §11), minus the nonce, which storage consumes atomically.
 */
#ifndef AHV_VERIFY_H
#define AHV_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "evidence.h"
#include "policy.h"

enum { V_KEY_HV = 1, V_KEY_GUEST = 2 };

struct v_key {
	int kind;
	uint8_t id[32];
	unsigned sig_alg;
	EVP_PKEY *pk;
	char name[65];
};

struct v_keyset {
	size_t n, cap;
	struct v_key *k;
	/* P-256 keys given a verification table (ecdsa_table.h) as they are
	 * added, up to tables_max (0: none; the daemon: verify_tables_max) */
	size_t tables_max, tables;
};

int v_keyset_add_pem(struct v_keyset *ks, int kind, const char *pem,
		     size_t len, const char *name, char *err, size_t errlen);
/* dst = the keys of src (shared, reference-counted EVP_PKEYs). */
int v_keyset_copy(struct v_keyset *dst, const struct v_keyset *src);
const struct v_key *v_keyset_find(const struct v_keyset *ks, int kind,
				  const uint8_t id[32]);
void v_keyset_free(struct v_keyset *ks);
const char *v_key_kind_name(int kind); /* "hv" / "guest" */

enum v_rv {
	V_RV_MATCH = 0,    /* digest equals a reference value */
	V_RV_MISMATCH,     /* named/matched entry, digest or range differs */
	V_RV_UNKNOWN_NAME, /* submission named a region the policy lacks */
	V_RV_UNNAMED,      /* no policy entry applies */
	V_RV_UNNAMED_OK,   /* no entry applies, and the policy allows that */
	V_RV_UNWATCHED,    /* digest matches, but the entry requires an
			      unbroken watch and the report shows none */
};
const char *v_rv_name(enum v_rv rv);
/* Region i of a report under an unbroken watch (docs/watch.md): the START
 * report of a watch, or a CHECK that says the region unmodified and still
 * mapped while the watch is active (or ended by this very report). Then
 * *since_ns is the watch's START time, *id its id. */
bool v_watch_unbroken(const uint8_t *report, unsigned i, uint64_t *since_ns,
		      uint32_t *id);

struct v_decision {
	enum v_err err;     /* final verdict so far (V_OK = accept) */
	char detail[256];
	bool authenticated; /* signatures and binding verified: nonce counts */
	unsigned n, d;      /* regions, digest size */
	int policy_idx[AHV_MAX_REGIONS]; /* -1 none */
	enum v_rv rv[AHV_MAX_REGIONS];
	bool regions_evaluated;
};

/* Run every check but the nonce. now_ns: verifier clock. */
enum v_err v_verify(const struct v_submission *s, const struct v_keyset *ks,
		    const struct v_policy *p, uint64_t now_ns,
		    struct v_decision *dec);

/* The composite digest (protocol.md §7.3) is the wire library's:
 * ahv_wire_composite() of <attest/wire_digest.h>. */

#endif
