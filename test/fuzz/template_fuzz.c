/*
 * template_fuzz.c: libFuzzer target for the pure cores: the template
 * renderer (template = input up to the first NUL, the rest a value) and the
 * pay-link verifier (input as a URL). Build: see test/t/dunning_pure.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paylink.h"
#include "template_render.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 2);
	char	   *value;
	char		err[256];
	char	   *out;
	char		p[72],
				u[72];
	long long	cents,
				exp;
	TrVar		vars[3];
	static const unsigned char key[32] = {1, 2, 3};

	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[size + 1] = '\0';
	value = buf + strlen(buf) + (strlen(buf) < size ? 1 : 0);
	vars[0].name = "first_name";
	vars[0].value = value;
	vars[1].name = "balance";
	vars[1].value = "$1.00";
	vars[2].name = "pay_link";
	vars[2].value = NULL;
	(void) tr_check(buf, err, sizeof(err));
	out = tr_render(buf, vars, 3, err, sizeof(err));
	free(out);
	(void) paylink_verify(buf, key, sizeof(key), 0, p, u, sizeof(p), &cents, &exp);
	free(buf);
	return 0;
}
