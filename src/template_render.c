/*
 * template_render.c: {{variable}} substitution for message templates. A
 * placeholder is "{{", optional blanks, a name of [a-z0-9_], optional
 * blanks, "}}"; the name must be on the whitelist or the template is
 * refused. libc only: never include postgres.h here (fuzzed with
 * libFuzzer, see test/fuzz/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_render.h"

/*
 * Minimum PHI: nothing clinical is on this list (no diagnosis, procedure,
 * provider, visit description or ledger note), so no template can show it.
 */
const char *const tr_whitelist[] = {
	"first_name", "practice_name", "balance", "service_date", "insurance_paid",
	"pay_link", "opt_out", "plan_offer", "assistance_link", "appointment_at",
	"amount", "due_date", "installment_amount", "installment_due", "installments",
	"plan_total", "practice_phone", "reason", "channel", "days_past_due",
	"itemization_date", "amount_then", "fees_since", "payments_since", "credits_since", "validation_end",
	NULL
};

int
tr_known_var(const char *name, size_t len)
{
	for (const char *const *w = tr_whitelist; *w; w++)
		if (strlen(*w) == len && memcmp(*w, name, len) == 0)
			return 1;
	return 0;
}

/*
 * Parse the placeholder whose "{{" is at p: on success the name's start and
 * length and the position after "}}"; 0 with err otherwise.
 */
static int
parse_placeholder(const char *p, const char **name, size_t *len, const char **after,
				  char *err, size_t errlen)
{
	const char *q = p + 2;

	while (*q == ' ')
		q++;
	*name = q;
	while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')
		q++;
	*len = (size_t) (q - *name);
	while (*q == ' ')
		q++;
	if (*len == 0 || q[0] != '}' || q[1] != '}')
	{
		snprintf(err, errlen, "malformed placeholder near \"%.24s\"", p);
		return 0;
	}
	if (!tr_known_var(*name, *len))
	{
		snprintf(err, errlen, "unknown placeholder \"{{%.*s}}\"", (int) (*len > 64 ? 64 : *len), *name);
		return 0;
	}
	*after = q + 2;
	return 1;
}

int
tr_check(const char *tmpl, char *err, size_t errlen)
{
	const char *p = tmpl;

	while ((p = strstr(p, "{{")) != NULL)
	{
		const char *name,
				   *after;
		size_t		len;

		if (!parse_placeholder(p, &name, &len, &after, err, errlen))
			return 0;
		p = after;
	}
	return 1;
}

typedef struct Buf
{
	char	   *data;
	size_t		len,
				cap;
} Buf;

static int
buf_put(Buf *b, const char *s, size_t n, int clean)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *d;

		while (b->len + n + 1 > cap)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	if (clean)
		for (size_t i = 0; i < n; i++)
			if ((unsigned char) b->data[b->len + i] < 0x20 || b->data[b->len + i] == 0x7f)
				b->data[b->len + i] = ' ';
	b->len += n;
	b->data[b->len] = '\0';
	return 1;
}

char *
tr_render(const char *tmpl, const TrVar *vars, int nvars, char *err, size_t errlen)
{
	Buf			b = {NULL, 0, 0};
	const char *p = tmpl;
	const char *open;

	if (!buf_put(&b, "", 0, 0))
		goto oom;
	while ((open = strstr(p, "{{")) != NULL)
	{
		const char *name,
				   *after;
		size_t		len;

		if (!buf_put(&b, p, (size_t) (open - p), 0))
			goto oom;
		if (!parse_placeholder(open, &name, &len, &after, err, errlen))
		{
			free(b.data);
			return NULL;
		}
		for (int i = 0; i < nvars; i++)
			if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
			{
				if (vars[i].value != NULL && !buf_put(&b, vars[i].value, strlen(vars[i].value), 1))
					goto oom;
				break;
			}
		p = after;
	}
	if (!buf_put(&b, p, strlen(p), 0))
		goto oom;
	return b.data;

oom:
	free(b.data);
	snprintf(err, errlen, "out of memory");
	return NULL;
}
