/*
 * template_render.h: the pure template core: {{variable}} substitution over
 * a fixed whitelist of variable names. libc only (no postgres.h) so it can
 * be fuzzed with libFuzzer; src/template.c wraps it for the server.
 */
#ifndef COLLECT_TEMPLATE_RENDER_H
#define COLLECT_TEMPLATE_RENDER_H

#include <stddef.h>

typedef struct TrVar
{
	const char *name;
	const char *value;			/* NULL renders as "" */
} TrVar;

/* The variable names a template may use; NULL-terminated. */
extern const char *const tr_whitelist[];

/* 1 when name[0..len) is a whitelisted variable name */
extern int	tr_known_var(const char *name, size_t len);

/*
 * Check every placeholder of tmpl: 1 when all are well formed and
 * whitelisted, else 0 with a message in err.
 */
extern int	tr_check(const char *tmpl, char *err, size_t errlen);

/*
 * Render tmpl with vars: a malloc'd string (the caller frees), or NULL
 * with a message in err (unknown or malformed placeholder, out of memory).
 * Control characters in values become spaces (no header or line injection).
 */
extern char *tr_render(const char *tmpl, const TrVar *vars, int nvars,
					   char *err, size_t errlen);

#endif
