/*
 * ek_challenge.h - the two steps of an EK-rooted enrollment around the
 * credential (TPM 2.0 Part 1 s24): issue a challenge for a checked evidence
 * directory, then accept the TPM's answer.
 *
 * The state file (mode 0600, on the operator's machine) holds
 *   "AHVEKCH1" || SHA-256(key id || AK Name || SHA-256(EK certificate)) || secret (32)
 * and is deleted once the answer is accepted: one challenge, one answer.
 */
#ifndef AHV_V_EK_CHALLENGE_H
#define AHV_V_EK_CHALLENGE_H

#include <stddef.h>
#include <stdint.h>

#include "ek_evidence.h"

/* A fresh secret, MakeCredential to res->ek for res->ak_name, written to
 * challenge_path (credential.bin); the state to state_path. */
int v_ek_challenge(const struct v_ek_result *res, const uint8_t key_id[32], const char *challenge_path,
		   const char *state_path, char *err, size_t errlen);
/* The answer (the secret ActivateCredential returned) against the state of
 * the same evidence. 0: proven; the state file is removed. */
int v_ek_answer(const struct v_ek_result *res, const uint8_t key_id[32], const char *state_path,
		const char *answer_path, char *err, size_t errlen);

#endif
