/*
 * redact.h: scrub credentials out of text that will be stored or shown
 * (outbox.last_error and everything copied from it). Pure C, no
 * PostgreSQL headers, so test/fuzz/fuzz_redact.c can link it alone.
 */
#ifndef COLLECT_REDACT_H
#define COLLECT_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACTED "[redacted]"
/* a secret shorter than this is not looked for piecewise (too many false hits) */
#define REDACT_MIN_PIECE 8

/*
 * Replace in text (NUL-terminated, rewritten in place; the result is never
 * longer than the input) every occurrence of secret, every occurrence of
 * the HTTP Basic token base64(account ":" secret) when account is not
 * NULL, a trailing cut-off prefix of either (>= REDACT_MIN_PIECE bytes),
 * and the credential after any "Basic " or "Bearer ". Returns true when
 * something was replaced.
 */
extern bool redact_secret(char *text, const char *account, const char *secret);

/* base64 of len bytes into out (4 * ((len + 2) / 3) + 1 bytes) */
extern void redact_base64(const unsigned char *in, size_t len, char *out);

#endif
