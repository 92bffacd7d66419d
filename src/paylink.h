/*
 * paylink.h: signed pay links (HMAC-SHA256 of practice, patient, amount and
 * expiry under the practice's key). Pure C over libc only: no postgres.h,
 * so the signer can be fuzzed and unit-tested on its own.
 */
#ifndef COLLECT_PAYLINK_H
#define COLLECT_PAYLINK_H

#include <stddef.h>
#include <stdint.h>

#define PAYLINK_SIG_HEX 65		/* 64 hex digits and a NUL */

extern void paylink_sha256(const unsigned char *data, size_t len, unsigned char out[32]);
extern void paylink_hmac_sha256(const unsigned char *key, size_t keylen,
								const unsigned char *msg, size_t msglen,
								unsigned char out[32]);

/* hex HMAC over "practice\npatient\ncents\nexpires" */
extern void paylink_sign(const unsigned char *key, size_t keylen,
						 const char *practice_id, const char *patient_id,
						 long long cents, long long expires_epoch,
						 char sig_hex[PAYLINK_SIG_HEX]);

/*
 * base?p=..&u=..&a=cents&e=expiry&s=sig into buf; returns the length, or -1
 * when it does not fit or an id has a character that needs URL escaping.
 */
extern int	paylink_build(char *buf, size_t buflen, const char *base,
						  const unsigned char *key, size_t keylen,
						  const char *practice_id, const char *patient_id,
						  long long cents, long long expires_epoch);

/*
 * Check a link built by paylink_build: 1 valid, 0 bad signature or
 * malformed, -1 expired (now_epoch > expiry). Fills the parsed fields.
 */
extern int	paylink_verify(const char *url, const unsigned char *key, size_t keylen,
						   long long now_epoch, char *practice_id, char *patient_id,
						   size_t idlen, long long *cents, long long *expires_epoch);

#endif
