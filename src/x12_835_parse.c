/*
 * x12_835_parse.c: tokenizer and reader for X12 835 remittance advice
 * (005010X221A1, and 004010X091A1 where it differs: the CR adjustment
 * group). Plain C and libc only: no PostgreSQL, no I/O, no globals, so the
 * fuzzer can drive it directly. It must never read past the buffer, loop
 * without consuming input, or allocate more than a small multiple of the
 * input size.
 *
 * Delimiters come from the ISA segment of each interchange: the element
 * separator is the byte after "ISA", the component separator ISA16, the
 * segment terminator the byte after ISA16. Files that declare one
 * component separator and use another in composites (SVC01, PLB03) are
 * read with the one used, and a warning says so. A byte-order mark,
 * CR/LF and indentation between segments are skipped.
 *
 * Structural errors (what an implementation guide calls required or
 * invalid) stop the parse with the segment number and the reason;
 * arithmetic that does not balance is a warning, because payers do send
 * such files and the posting rules below do not depend on it.
 */
#include "x12_835_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Segment
{
	char		id[4];
	int			n;				/* elements after the id */
	char	   *el[X835_MAX_ELEMENTS + 1];	/* el[1..n]; el[0] unused */
} Segment;

typedef struct Reader
{
	X835Parse  *out;
	char	   *buf;			/* private, NUL-terminated copy */
	size_t		len;
	size_t		pos;
	char		elem_sep;
	char		seg_term;
	char		comp_declared;
	char		comp_used;
	bool		comp_warned;
	int			segno;			/* file-wide, 1-based */
	/* loop state */
	int			txn;			/* current transaction index or -1 */
	int			txn_segments;	/* segments since ST, inclusive */
	int			n_gs_st;		/* ST count in the current GS */
	int			n_isa_gs;		/* GS count in the current ISA */
	bool		in_isa,
				in_gs;
	const char *gs_version;
	const char *isa_control;
	const char *gs_control;
	X835Claim  *claim;			/* current claim or NULL */
	bool		in_line;		/* after an SVC of the current claim */
	bool		claim_has_qc;
	x835_cents	line_billed,
				line_paid,
				line_adjusted;
	int			line_segment;
	int			first_line_date;
	int		   *occ_table;		/* claim indexes by (trace, key) hash */
	int			occ_cap;
} Reader;

static bool x835_fail(Reader *r, const char *fmt,...) __attribute__((format(printf, 2, 3)));
static void x835_warn(Reader *r, int segment, int claim, const char *fmt,...) __attribute__((format(printf, 4, 5)));

static bool
x835_fail(Reader *r, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(r->out->error, sizeof(r->out->error), fmt, ap);
	va_end(ap);
	return false;
}

static void *
grow(Reader *r, void *old, int n, int *cap, size_t elem)
{
	void	   *p;
	int			new_cap;

	if (n < *cap)
		return old;
	new_cap = *cap == 0 ? 16 : *cap * 2;
	p = r->out->alloc(r->out->alloc_ctx, (size_t) new_cap * elem);
	if (p == NULL)
		return NULL;
	if (old != NULL)
		memcpy(p, old, (size_t) n * elem);
	*cap = new_cap;
	return p;
}

static void
x835_warn(Reader *r, int segment, int claim, const char *fmt,...)
{
	X835Parse  *o = r->out;
	X835Warning *w;
	va_list		ap;

	if (o->n_warnings >= 10000)
		return;					/* enough said */
	o->warnings = grow(r, o->warnings, o->n_warnings, &o->cap_warnings, sizeof(X835Warning));
	if (o->warnings == NULL)
		return;
	w = &o->warnings[o->n_warnings++];
	w->segment = segment;
	w->claim = claim;
	va_start(ap, fmt);
	vsnprintf(w->message, sizeof(w->message), fmt, ap);
	va_end(ap);
}

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static inline bool
is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* a delimiter must be a visible non-alphanumeric byte, or a line break for the terminator */
static inline bool
is_delimiter(char c)
{
	return c > ' ' && c < 0x7f && !is_alnum(c);
}

/* ---------------------------------------------------------------- values */

/* cents as "-1234.56" into buf (for messages) */
static const char *
fmt_money(char *buf, size_t size, x835_cents c)
{
	unsigned long long a = c < 0 ? (unsigned long long) (-(c + 1)) + 1 : (unsigned long long) c;

	snprintf(buf, size, "%s%llu.%02llu", c < 0 ? "-" : "", a / 100, a % 100);
	return buf;
}


/* "-123.45" -> cents; X12 R type: optional minus, digits, optional point */
static bool
parse_amount(const char *s, x835_cents *cents)
{
	x835_cents	whole = 0;
	int			frac = 0,
				frac_digits = 0,
				digits = 0;
	bool		neg = false,
				point = false;
	const char *p = s;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	for (; *p; p++)
	{
		if (*p == '.' && !point)
			point = true;
		else if (*p >= '0' && *p <= '9')
		{
			if (++digits > 15)
				return false;
			if (!point)
				whole = whole * 10 + (*p - '0');
			else if (++frac_digits <= 2)
				frac = frac * 10 + (*p - '0');
			else if (*p != '0')
				return false;	/* a fraction of a cent */
		}
		else
			return false;
	}
	if (digits == 0)
		return false;
	if (frac_digits == 1)
		frac *= 10;
	*cents = whole * 100 + frac;
	if (neg)
		*cents = -*cents;
	return true;
}

/* CCYYMMDD, checked as a calendar date */
static bool
parse_date(const char *s, int *date)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			y,
				m,
				d;

	if (strlen(s) != 8)
		return false;
	for (int i = 0; i < 8; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[4] - '0') * 10 + (s[5] - '0');
	d = (s[6] - '0') * 10 + (s[7] - '0');
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	*date = y * 10000 + m * 100 + d;
	return true;
}

static inline const char *
el(const Segment *s, int i)
{
	return i <= s->n ? s->el[i] : "";
}

static inline bool
present(const Segment *s, int i)
{
	return i <= s->n && s->el[i][0] != '\0';
}

static bool
required(Reader *r, const Segment *s, int i, const char *what)
{
	if (present(s, i))
		return true;
	return x835_fail(r, "%s%02d (%s) is required but empty", s->id, i, what);
}

static bool
amount_at(Reader *r, const Segment *s, int i, const char *what, x835_cents *v)
{
	if (!parse_amount(el(s, i), v))
		return x835_fail(r, "%s%02d (%s) \"%.40s\" is not an amount", s->id, i, what, el(s, i));
	return true;
}

static bool
date_at(Reader *r, const Segment *s, int i, const char *what, int *v)
{
	if (!parse_date(el(s, i), v))
		return x835_fail(r, "%s%02d (%s) \"%.40s\" is not a CCYYMMDD date", s->id, i, what, el(s, i));
	return true;
}

static char *
copy_str(Reader *r, const char *s)
{
	size_t		n = strlen(s);
	char	   *p = r->out->alloc(r->out->alloc_ctx, n + 1);

	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

/* trailing blanks are padding (ISA fields, masked files) */
static char *
copy_trimmed(Reader *r, const char *s)
{
	char	   *p = copy_str(r, s);

	if (p != NULL)
	{
		size_t		n = strlen(p);

		while (n > 0 && p[n - 1] == ' ')
			p[--n] = '\0';
	}
	return p;
}

/*
 * Split a composite element in place. When the declared component
 * separator does not occur but a two-letter qualifier is followed by
 * another delimiter ("HC>99213" under ISA16 ':'), that one is used from
 * here on in this interchange.
 */
static int
split_composite(Reader *r, char *value, char **parts, int max_parts)
{
	int			n = 0;
	char	   *p = value;

	if (strchr(value, r->comp_used) == NULL && strlen(value) > 3 &&
		is_alnum(value[0]) && is_alnum(value[1]) && is_delimiter(value[2]) &&
		value[2] != r->elem_sep && value[2] != r->seg_term && value[2] != r->comp_used)
	{
		if (!r->comp_warned)
			x835_warn(r, r->segno, -1, "ISA16 declares component separator '%c' but composites use '%c'; read with '%c'",
					  r->comp_declared, value[2], value[2]);
		r->comp_warned = true;
		r->comp_used = value[2];
	}
	parts[n++] = p;
	while (n < max_parts && (p = strchr(p, r->comp_used)) != NULL)
	{
		*p++ = '\0';
		parts[n++] = p;
	}
	return n;
}

/* ---------------------------------------------------------- tokenizer */

/*
 * Read the ISA at r->pos: fixes the delimiters for this interchange. ISA
 * elements are fixed-width by the standard, but the separators are found
 * by counting, so a padded-wrong ISA is still read.
 */
static bool
read_isa(Reader *r, Segment *s)
{
	char	   *start = r->buf + r->pos;
	size_t		avail = r->len - r->pos;
	size_t		i;
	int			seps = 0;

	if (avail < 4 || memcmp(start, "ISA", 3) != 0)
		return x835_fail(r, "expected an ISA segment (interchange header)");
	r->elem_sep = start[3];
	if (!is_delimiter(r->elem_sep))
		return x835_fail(r, "ISA declares an element separator '%c' that is a letter, digit or blank",
						 r->elem_sep);
	for (i = 3; i < avail && seps < 16; i++)
		if (start[i] == r->elem_sep)
			seps++;
	/* start[i] is ISA16, start[i + 1] the segment terminator */
	if (seps < 16 || i + 1 >= avail)
		return x835_fail(r, "ISA is incomplete: it needs 16 elements, a component separator and a terminator");
	r->comp_declared = r->comp_used = start[i];
	r->comp_warned = false;
	r->seg_term = start[i + 1];
	if (r->comp_declared == r->elem_sep || !(is_delimiter(r->comp_declared)))
		return x835_fail(r, "ISA16 component separator '%c' is not usable", r->comp_declared);
	if (r->seg_term == r->elem_sep || r->seg_term == r->comp_declared ||
		!(is_delimiter(r->seg_term) || r->seg_term == '\n' || r->seg_term == '\r'))
		return x835_fail(r, "the segment terminator after ISA16 ('%c') is not usable", r->seg_term);

	/*
	 * A file may declare one terminator and then break segments with
	 * newlines only: when the declared byte never occurs again in this
	 * interchange's remainder but line breaks do, read by lines.
	 */
	if (r->seg_term != '\n' && r->seg_term != '\r' &&
		memchr(start + i + 2, r->seg_term, avail - i - 2) == NULL &&
		memchr(start + i + 2, '\n', avail - i - 2) != NULL)
	{
		x835_warn(r, r->segno, -1, "the ISA declares segment terminator '%c' but the file breaks segments with new lines; read by lines",
				  r->seg_term);
		r->seg_term = '\n';
	}

	/* tokenise ISA01..ISA16 in place */
	start[i + 1] = '\0';
	memcpy(s->id, "ISA", 4);
	s->n = 0;
	{
		char	   *p = start + 4;

		while (s->n < 16)
		{
			char	   *e = (s->n < 15) ? strchr(p, r->elem_sep) : start + i + 1;

			s->el[++s->n] = p;
			if (e == NULL)
				break;
			*e = '\0';
			p = e + 1;
		}
	}
	r->pos += i + 2;
	return true;
}

/* Next segment into s; false at the end of input (s->id empty) or on error (out->error set). */
static bool
next_segment(Reader *r, Segment *s)
{
	char	   *p,
			   *end,
			   *q;

	s->id[0] = '\0';
	s->n = 0;
	while (r->pos < r->len && (is_space(r->buf[r->pos]) || r->buf[r->pos] == '\0'))
		r->pos++;
	if (r->pos >= r->len)
		return false;

	r->segno++;
	r->out->n_segments = r->segno;
	if (r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "ISA", 3) == 0)
		return read_isa(r, s);
	if (r->elem_sep == '\0')
		return x835_fail(r, "expected an ISA segment (interchange header) at the start of the file");

	p = r->buf + r->pos;
	end = memchr(p, r->seg_term, r->len - r->pos);
	if (end == NULL)
		end = r->buf + r->len;	/* last segment without terminator */
	r->pos = (end - r->buf) + 1;
	*end = '\0';
	/* a line break before the terminator is layout, not data */
	while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';

	q = p;
	while (*q && *q != r->elem_sep)
		q++;
	if (q - p < 2 || q - p > 3)
		return x835_fail(r, "\"%.20s\" is not a segment identifier", p);
	for (char *c = p; c < q; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
			return x835_fail(r, "\"%.20s\" is not a segment identifier", p);
	memcpy(s->id, p, q - p);
	s->id[q - p] = '\0';

	while (*q == r->elem_sep)
	{
		*q++ = '\0';
		if (s->n >= X835_MAX_ELEMENTS)
			return x835_fail(r, "%s has more than %d elements", s->id, X835_MAX_ELEMENTS);
		s->el[++s->n] = q;
		while (*q && *q != r->elem_sep)
			q++;
	}
	for (int i = 1; i <= s->n; i++)
		for (const char *c = s->el[i]; *c; c++)
			if ((unsigned char) *c < 0x20 && *c != '\t')
				return x835_fail(r, "%s%02d contains a control character (0x%02x)", s->id, i,
								 (unsigned char) *c);
	return true;
}

/* ------------------------------------------------------------- loops */

static void
close_line(Reader *r)
{
	if (r->claim != NULL && r->in_line &&
		r->line_billed - r->line_adjusted != r->line_paid)
	{
		char		a[32],
					b[32],
					c[32];

		x835_warn(r, r->line_segment, (int) (r->claim - r->out->claims),
				  "service line at segment %d does not balance: charge %s - adjustments %s != paid %s",
				  r->line_segment, fmt_money(a, 32, r->line_billed), fmt_money(b, 32, r->line_adjusted),
				  fmt_money(c, 32, r->line_paid));
	}
	r->in_line = false;
}

static void
close_claim(Reader *r)
{
	X835Claim  *c = r->claim;
	x835_cents	adjusted = 0;
	char		m1[32],
				m2[32],
				m3[32];

	close_line(r);
	if (c == NULL)
		return;
	for (int g = 0; g < 5; g++)
		adjusted += c->group_total[g];
	if (c->has_amounts && c->billed - adjusted != c->paid && c->n_cas > 0)
		x835_warn(r, c->segment, (int) (c - r->out->claims),
				  "claim at segment %d does not balance: CLP03 %s - adjustments %s != CLP04 %s",
				  c->segment, fmt_money(m1, 32, c->billed), fmt_money(m2, 32, adjusted), fmt_money(m3, 32, c->paid));
	if (c->has_clp05 && c->n_cas > 0 && c->clp05 != c->group_total[X835_GROUP_PR] + c->cr_patient)
		x835_warn(r, c->segment, (int) (c - r->out->claims),
				  "claim at segment %d: CLP05 %s differs from the CAS patient-responsibility total %s, which is posted",
				  c->segment, fmt_money(m1, 32, c->clp05),
				  fmt_money(m2, 32, c->group_total[X835_GROUP_PR] + c->cr_patient));
	if (c->status == X835_STATUS_REVERSAL &&
		(c->group_total[X835_GROUP_PR] + c->cr_patient > 0 || (c->n_cas == 0 && c->clp05 > 0)))
		x835_warn(r, c->segment, (int) (c - r->out->claims),
				  "reversal at segment %d carries a positive patient responsibility; it is taken back",
				  c->segment);
	if (c->service_date == 0)
		c->service_date = r->first_line_date;
	r->claim = NULL;
}

static bool
close_transaction(Reader *r, const Segment *s)
{
	X835Transaction *t = &r->out->transactions[r->txn];
	int			count;

	close_claim(r);
	if (!required(r, s, 1, "number of included segments") || !required(r, s, 2, "transaction set control number"))
		return false;
	if (t->handling == '\0')
		return x835_fail(r, "the transaction set started at segment %d has no BPR (financial information)", t->segment);
	if (t->trace == NULL)
		return x835_fail(r, "the transaction set started at segment %d has no TRN (reassociation trace number)", t->segment);
	count = atoi(el(s, 1));
	if (count != r->txn_segments)
		return x835_fail(r, "SE01 says %d segments but the transaction set started at segment %d has %d",
						 count, t->segment, r->txn_segments);
	if (strcmp(el(s, 2), t->control) != 0)
		x835_warn(r, r->segno, -1, "SE02 \"%.40s\" does not match ST02 \"%.40s\" of segment %d",
				  el(s, 2), t->control, t->segment);
	if (t->total_paid != t->claims_paid - t->provider_adjustments)
	{
		char		m1[32],
					m2[32],
					m3[32];

		x835_warn(r, r->segno, -1,
				  "transaction set at segment %d does not balance: BPR02 %s != claims paid %s - provider adjustments %s",
				  t->segment, fmt_money(m1, 32, t->total_paid), fmt_money(m2, 32, t->claims_paid),
				  fmt_money(m3, 32, t->provider_adjustments));
	}
	r->txn = -1;
	return true;
}

static int
cas_group(const char *code)
{
	static const char *const groups[] = {"CO", "CR", "OA", "PI", "PR"};

	for (int g = 0; g < 5; g++)
		if (strcmp(code, groups[g]) == 0)
			return g;
	return -1;
}

/* the key a claim is posted under, within one payment: payer claim id, else CLP01 */
static const char *
claim_key(const X835Claim *c)
{
	return c->payer_claim_id ? c->payer_claim_id : c->patient_control;
}

static uint32_t
occurrence_hash(const char *trace, const char *key)
{
	uint32_t	h = 2166136261u;

	for (const char *p = trace; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	h = (h ^ 0x1f) * 16777619u;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	return h;
}

/*
 * c->occurrence = 1 + the number of earlier claims with the same trace
 * number and key, through an open-addressing table of claim indexes (a
 * linear scan would be quadratic on a hostile file with many claims).
 */
static bool
count_occurrence(Reader *r, X835Claim *c, const X835Transaction *t)
{
	X835Parse  *o = r->out;
	const char *trace = t->trace ? t->trace : "";
	uint32_t	h = occurrence_hash(trace, claim_key(c));
	int			slot;

	if ((o->n_claims + 1) * 2 > r->occ_cap)
	{
		int			cap = r->occ_cap ? r->occ_cap * 2 : 64;
		int		   *table = o->alloc(o->alloc_ctx, sizeof(int) * cap);

		if (table == NULL)
			return false;
		for (int i = 0; i < cap; i++)
			table[i] = -1;
		for (int i = 0; i < r->occ_cap; i++)
		{
			int			idx = r->occ_table[i];

			if (idx >= 0)
			{
				const X835Claim *e = &o->claims[idx];
				const char *et = o->transactions[e->transaction].trace;
				int			j = occurrence_hash(et ? et : "", claim_key(e)) & (cap - 1);

				while (table[j] >= 0)
					j = (j + 1) & (cap - 1);
				table[j] = idx;
			}
		}
		r->occ_table = table;
		r->occ_cap = cap;
	}
	c->occurrence = 1;
	slot = h & (r->occ_cap - 1);
	while (r->occ_table[slot] >= 0)
	{
		X835Claim  *e = &o->claims[r->occ_table[slot]];
		const char *et = o->transactions[e->transaction].trace;

		if (strcmp(claim_key(e), claim_key(c)) == 0 && strcmp(et ? et : "", trace) == 0)
		{
			/* keep the latest one in the table: its occurrence is the count so far */
			c->occurrence = e->occurrence + 1;
			r->occ_table[slot] = o->n_claims;
			return true;
		}
		slot = (slot + 1) & (r->occ_cap - 1);
	}
	r->occ_table[slot] = o->n_claims;
	return true;
}

static bool
on_clp(Reader *r, Segment *s)
{
	X835Parse  *o = r->out;
	X835Transaction *t = &o->transactions[r->txn];
	X835Claim  *c;
	char	   *end;
	long		status;

	close_claim(r);
	if (!required(r, s, 1, "patient control number") || !required(r, s, 2, "claim status code"))
		return false;
	status = strtol(el(s, 2), &end, 10);
	if (*end != '\0' || x835_status_label((int) status) == NULL)
		return x835_fail(r, "CLP02 \"%.20s\" is not a claim status code", el(s, 2));

	o->claims = grow(r, o->claims, o->n_claims, &o->cap_claims, sizeof(X835Claim));
	if (o->claims == NULL)
		return x835_fail(r, "out of memory");
	c = &o->claims[o->n_claims];
	memset(c, 0, sizeof(*c));
	c->segment = r->segno;
	c->transaction = r->txn;
	c->patient_control = copy_trimmed(r, el(s, 1));
	c->status = (int) status;
	if (present(s, 3) || present(s, 4))
	{
		if (!amount_at(r, s, 3, "total claim charge", &c->billed) ||
			!amount_at(r, s, 4, "claim payment", &c->paid))
			return false;
		c->has_amounts = true;
	}
	else
		x835_warn(r, r->segno, o->n_claims, "CLP %.40s has no CLP03/CLP04 amounts: read as zero", el(s, 1));
	if (present(s, 5))
	{
		if (!amount_at(r, s, 5, "patient responsibility", &c->clp05))
			return false;
		c->has_clp05 = true;
	}
	c->payer_claim_id = present(s, 7) ? copy_trimmed(r, el(s, 7)) : NULL;
	if (c->patient_control == NULL || (present(s, 7) && c->payer_claim_id == NULL))
		return x835_fail(r, "out of memory");

	if (!count_occurrence(r, c, t))
		return x835_fail(r, "out of memory");
	o->n_claims++;
	r->claim = c;
	r->in_line = false;
	r->claim_has_qc = false;
	r->first_line_date = 0;
	t->n_claims++;
	t->claims_paid += c->paid;
	return true;
}

/*
 * 4010 reversals and corrections (group CR) carry the original reason
 * codes; deductible (1), coinsurance (2), co-payment (3) and blood
 * deductible (66) are the patient's share whatever group carries them.
 */
static bool
is_patient_reason(const char *reason)
{
	return strcmp(reason, "1") == 0 || strcmp(reason, "2") == 0 || strcmp(reason, "3") == 0 ||
		strcmp(reason, "66") == 0;
}

static bool
on_cas(Reader *r, Segment *s)
{
	int			group;
	X835Claim  *c = r->claim;

	if (c == NULL)
		return x835_fail(r, "CAS outside a claim (no CLP before it)");
	if (!required(r, s, 1, "claim adjustment group code"))
		return false;
	group = cas_group(el(s, 1));
	if (group < 0)
		return x835_fail(r, "CAS01 \"%.10s\" is not an adjustment group (CO, OA, PI, PR; CR in 4010)", el(s, 1));
	if (!present(s, 2) || !present(s, 3))
		return x835_fail(r, "CAS needs at least one reason code (CAS02) and amount (CAS03)");
	for (int i = 2; i <= 17; i += 3)
	{
		x835_cents	amount;

		if (!present(s, i) && !present(s, i + 1))
			continue;
		if (!present(s, i))
			return x835_fail(r, "CAS%02d has an amount but CAS%02d has no reason code", i + 1, i);
		if (strlen(el(s, i)) > 5)
			return x835_fail(r, "CAS%02d \"%.20s\" is not an adjustment reason code", i, el(s, i));
		if (!amount_at(r, s, i + 1, "adjustment amount", &amount))
			return false;
		c->group_total[group] += amount;
		if (group == X835_GROUP_CR && is_patient_reason(el(s, i)))
			c->cr_patient += amount;
		if (r->in_line)
			r->line_adjusted += amount;
	}
	if (s->n > 19)
		return x835_fail(r, "CAS has %d elements; at most 19 (six reason/amount/quantity triples)", s->n);
	c->n_cas++;
	return true;
}

static bool
on_svc(Reader *r, Segment *s)
{
	X835Claim  *c = r->claim;
	char	   *parts[8];
	int			n;

	if (c == NULL)
		return x835_fail(r, "SVC outside a claim (no CLP before it)");
	close_line(r);
	if (!required(r, s, 1, "composite medical procedure identifier"))
		return false;
	n = split_composite(r, s->el[1], parts, 8);
	if (n < 2 || parts[1][0] == '\0')
		return x835_fail(r, "SVC01 \"%.20s\" has no procedure code (SVC01-2 is required after the qualifier)", parts[0]);
	if (strlen(parts[0]) != 2)
		return x835_fail(r, "SVC01-1 \"%.20s\" is not a product/service ID qualifier", parts[0]);
	if (!amount_at(r, s, 2, "line item charge", &r->line_billed) ||
		!amount_at(r, s, 3, "line item provider payment", &r->line_paid))
		return false;
	r->in_line = true;
	r->line_adjusted = 0;
	r->line_segment = r->segno;
	c->n_lines++;
	c->lines_billed += r->line_billed;
	c->lines_paid += r->line_paid;
	return true;
}

static bool
on_nm1(Reader *r, Segment *s)
{
	X835Claim  *c = r->claim;

	if (c == NULL)
		return true;			/* payer/payee names are N1, not NM1 */
	/* the patient (QC) wins over the insured (IL); the first of each counts */
	if (strcmp(el(s, 1), "QC") == 0)
	{
		if (r->claim_has_qc)
			return true;
		r->claim_has_qc = true;
	}
	else if (strcmp(el(s, 1), "IL") != 0 || r->claim_has_qc || c->last_name != NULL)
		return true;
	c->last_name = copy_trimmed(r, el(s, 3));
	c->first_name = copy_trimmed(r, el(s, 4));
	c->member_id = present(s, 9) ? copy_trimmed(r, el(s, 9)) : NULL;
	if (c->last_name == NULL || c->first_name == NULL)
		return x835_fail(r, "out of memory");
	return true;
}

static bool
on_dtm(Reader *r, Segment *s)
{
	const char *q = el(s, 1);
	int			date;

	if (strcmp(q, "405") == 0 && r->claim == NULL)
	{
		if (!date_at(r, s, 2, "production date", &date))
			return false;
		r->out->transactions[r->txn].production_date = date;
	}
	else if (r->claim != NULL && strcmp(q, "232") == 0)
	{
		if (!date_at(r, s, 2, "claim statement period start", &date))
			return false;
		r->claim->service_date = date;
	}
	else if (r->claim != NULL && (strcmp(q, "472") == 0 || strcmp(q, "150") == 0))
	{
		if (!date_at(r, s, 2, "service date", &date))
			return false;
		if (r->first_line_date == 0 || date < r->first_line_date)
			r->first_line_date = date;
	}
	return true;
}

static bool
on_plb(Reader *r, Segment *s)
{
	X835Parse  *o = r->out;
	int			fiscal;

	close_claim(r);
	if (!required(r, s, 1, "provider identifier") || !date_at(r, s, 2, "fiscal period date", &fiscal))
		return false;
	if (!present(s, 3))
		return x835_fail(r, "PLB03 (adjustment identifier) is required");
	for (int i = 3; i <= 13; i += 2)
	{
		X835ProviderAdjustment *a;
		char	   *parts[3];
		int			n;

		if (!present(s, i) && !present(s, i + 1))
			continue;
		if (!present(s, i))
			return x835_fail(r, "PLB%02d has an amount but PLB%02d has no adjustment identifier", i + 1, i);
		n = split_composite(r, s->el[i], parts, 3);
		if (strlen(parts[0]) != 2)
			return x835_fail(r, "PLB%02d-1 \"%.20s\" is not a provider adjustment reason code", i, parts[0]);
		o->adjustments = grow(r, o->adjustments, o->n_adjustments, &o->cap_adjustments,
							  sizeof(X835ProviderAdjustment));
		if (o->adjustments == NULL)
			return x835_fail(r, "out of memory");
		a = &o->adjustments[o->n_adjustments];
		memset(a, 0, sizeof(*a));
		a->segment = r->segno;
		a->transaction = r->txn;
		a->fiscal_date = fiscal;
		a->provider = copy_trimmed(r, el(s, 1));
		a->reason = copy_trimmed(r, parts[0]);
		a->reference = n > 1 ? copy_trimmed(r, parts[1]) : NULL;
		if (!amount_at(r, s, i + 1, "provider adjustment amount", &a->amount))
			return false;
		if (a->provider == NULL || a->reason == NULL)
			return x835_fail(r, "out of memory");
		o->transactions[r->txn].provider_adjustments += a->amount;
		o->n_adjustments++;
	}
	if (s->n > 14)
		return x835_fail(r, "PLB has %d elements; at most 14 (six identifier/amount pairs)", s->n);
	return true;
}

static bool
on_st(Reader *r, Segment *s)
{
	X835Parse  *o = r->out;
	X835Transaction *t;

	if (!r->in_gs)
		return x835_fail(r, "ST outside a functional group (no GS before it)");
	if (r->txn >= 0)
		return x835_fail(r, "ST before the SE of the transaction set started at segment %d",
						 o->transactions[r->txn].segment);
	if (strcmp(el(s, 1), "835") != 0)
		return x835_fail(r, "ST01 is \"%.10s\": this is not an 835 remittance advice", el(s, 1));
	if (!required(r, s, 2, "transaction set control number"))
		return false;
	o->transactions = grow(r, o->transactions, o->n_transactions, &o->cap_transactions,
						   sizeof(X835Transaction));
	if (o->transactions == NULL)
		return x835_fail(r, "out of memory");
	t = &o->transactions[o->n_transactions];
	memset(t, 0, sizeof(*t));
	t->segment = r->segno;
	t->control = copy_trimmed(r, el(s, 2));
	t->version = present(s, 3) ? copy_trimmed(r, el(s, 3)) : r->gs_version;
	if (t->control == NULL)
		return x835_fail(r, "out of memory");
	r->txn = o->n_transactions++;
	r->txn_segments = 1;
	r->n_gs_st++;
	r->claim = NULL;
	return true;
}

static bool
on_bpr(Reader *r, Segment *s)
{
	X835Transaction *t = &r->out->transactions[r->txn];

	if (!required(r, s, 1, "transaction handling code") ||
		!amount_at(r, s, 2, "total actual provider payment amount", &t->total_paid))
		return false;
	if (strlen(el(s, 1)) != 1 || strchr("CDHIPUX", el(s, 1)[0]) == NULL)
		return x835_fail(r, "BPR01 \"%.10s\" is not a transaction handling code", el(s, 1));
	t->handling = el(s, 1)[0];
	if (present(s, 16) && !parse_date(el(s, 16), &t->payment_date))
		x835_warn(r, r->segno, -1, "BPR16 (payment effective date) \"%.20s\" is not a CCYYMMDD date; ignored", el(s, 16));
	return true;
}

/* One segment inside a transaction set */
static bool
on_body(Reader *r, Segment *s)
{
	X835Transaction *t = &r->out->transactions[r->txn];

	r->txn_segments++;
	if (strcmp(s->id, "SE") == 0)
		return close_transaction(r, s);
	if (strcmp(s->id, "BPR") == 0)
		return on_bpr(r, s);
	if (strcmp(s->id, "TRN") == 0)
	{
		if (!required(r, s, 2, "check or EFT trace number"))
			return false;
		t->trace = copy_trimmed(r, el(s, 2));
		t->payer_id = present(s, 3) ? copy_trimmed(r, el(s, 3)) : NULL;
		return t->trace != NULL || x835_fail(r, "out of memory");
	}
	if (strcmp(s->id, "N1") == 0 && r->claim == NULL && strcmp(el(s, 1), "PR") == 0)
	{
		t->payer_name = copy_trimmed(r, el(s, 2));
		return true;
	}
	if (strcmp(s->id, "LX") == 0 || strcmp(s->id, "TS3") == 0 || strcmp(s->id, "TS2") == 0)
	{
		close_claim(r);			/* a new header number group */
		return true;
	}
	if (strcmp(s->id, "CLP") == 0)
		return on_clp(r, s);
	if (strcmp(s->id, "CAS") == 0)
		return on_cas(r, s);
	if (strcmp(s->id, "SVC") == 0)
		return on_svc(r, s);
	if (strcmp(s->id, "NM1") == 0)
		return on_nm1(r, s);
	if (strcmp(s->id, "DTM") == 0)
		return on_dtm(r, s);
	if (strcmp(s->id, "PLB") == 0)
		return on_plb(r, s);
	if (strcmp(s->id, "ISA") == 0 || strcmp(s->id, "GS") == 0 || strcmp(s->id, "ST") == 0 ||
		strcmp(s->id, "GE") == 0 || strcmp(s->id, "IEA") == 0)
		return x835_fail(r, "%s inside the transaction set started at segment %d (no SE before it)",
						 s->id, t->segment);
	return true;				/* REF, AMT, QTY, MIA, MOA, LQ, PER, N3, N4, ...: not needed to post */
}

/* One segment of the envelope (ISA, GS, ST, GE, IEA) */
static bool
on_envelope(Reader *r, Segment *s)
{
	if (strcmp(s->id, "ISA") == 0)
	{
		if (r->in_isa)
			return x835_fail(r, "ISA before the IEA of the previous interchange");
		if (s->n != 16)
			return x835_fail(r, "ISA has %d elements; it needs 16", s->n);
		r->isa_control = copy_trimmed(r, el(s, 13));
		r->in_isa = true;
		r->n_isa_gs = 0;
		r->out->n_interchanges++;
		return true;
	}
	if (!r->in_isa)
		return x835_fail(r, "%s outside an interchange (no ISA before it)", s->id);
	if (strcmp(s->id, "IEA") == 0)
	{
		if (r->in_gs)
			return x835_fail(r, "IEA before the GE of the open functional group");
		if (atoi(el(s, 1)) != r->n_isa_gs)
			x835_warn(r, r->segno, -1, "IEA01 says %d functional groups but the interchange has %d", atoi(el(s, 1)), r->n_isa_gs);
		if (r->isa_control && strcmp(el(s, 2), r->isa_control) != 0)
			x835_warn(r, r->segno, -1, "IEA02 \"%.20s\" does not match ISA13 \"%.20s\"", el(s, 2), r->isa_control);
		r->in_isa = false;
		return true;
	}
	if (strcmp(s->id, "GS") == 0)
	{
		if (r->in_gs)
			return x835_fail(r, "GS before the GE of the open functional group");
		if (strcmp(el(s, 1), "HP") != 0)
			return x835_fail(r, "GS01 is \"%.10s\": an 835 travels in an HP functional group", el(s, 1));
		r->gs_version = copy_trimmed(r, el(s, 8));
		r->gs_control = copy_trimmed(r, el(s, 6));
		r->in_gs = true;
		r->n_gs_st = 0;
		r->n_isa_gs++;
		return true;
	}
	if (strcmp(s->id, "GE") == 0)
	{
		if (!r->in_gs)
			return x835_fail(r, "GE without a GS");
		if (atoi(el(s, 1)) != r->n_gs_st)
			x835_warn(r, r->segno, -1, "GE01 says %d transaction sets but the group has %d", atoi(el(s, 1)), r->n_gs_st);
		if (r->gs_control && strcmp(el(s, 2), r->gs_control) != 0)
			x835_warn(r, r->segno, -1, "GE02 \"%.20s\" does not match GS06 \"%.20s\"", el(s, 2), r->gs_control);
		r->in_gs = false;
		return true;
	}
	if (strcmp(s->id, "ST") == 0)
		return on_st(r, s);
	if (strcmp(s->id, "TA1") == 0)
		return true;
	return x835_fail(r, "%s outside a transaction set (no ST before it)", s->id);
}

bool
x835_parse(const char *data, size_t len, x835_alloc_fn alloc, void *alloc_ctx, X835Parse *out)
{
	Reader		r;
	Segment		s;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	out->alloc = alloc;
	out->alloc_ctx = alloc_ctx;
	memset(&r, 0, sizeof(r));
	r.out = out;
	r.txn = -1;

	if (len > X835_MAX_INPUT)
	{
		snprintf(out->error, sizeof(out->error), "the file is larger than %d bytes", X835_MAX_INPUT);
		return false;
	}
	r.buf = alloc(alloc_ctx, len + 1);
	if (r.buf == NULL)
	{
		snprintf(out->error, sizeof(out->error), "out of memory");
		return false;
	}
	memcpy(r.buf, data, len);
	r.buf[len] = '\0';
	r.len = len;
	if (len >= 3 && memcmp(r.buf, "\xEF\xBB\xBF", 3) == 0)
		r.pos = 3;				/* UTF-8 byte-order mark */

	while (ok)
	{
		ok = next_segment(&r, &s);
		if (!ok)
		{
			if (out->error[0] == '\0' && s.id[0] == '\0')
			{
				/* end of input */
				if (r.segno == 0)
					ok = x835_fail(&r, "the file is empty");
				else if (r.txn >= 0)
					ok = x835_fail(&r, "the file ends after segment %d, inside the transaction set started at segment %d (no SE)",
								   r.segno, out->transactions[r.txn].segment);
				else if (r.in_gs)
					ok = x835_fail(&r, "the file ends after segment %d, inside a functional group (no GE)", r.segno);
				else if (r.in_isa)
					ok = x835_fail(&r, "the file ends after segment %d, inside an interchange (no IEA)", r.segno);
				else
				{
					ok = true;
					break;
				}
				r.segno = 0;	/* not one segment's fault */
			}
			break;
		}
		if (r.txn >= 0 && strcmp(s.id, "ISA") != 0)
			ok = on_body(&r, &s);
		else
			ok = on_envelope(&r, &s);
	}
	if (!ok)
	{
		out->error_segment = r.segno;
		memcpy(out->error_segment_id, s.id, sizeof(out->error_segment_id));
		return false;
	}
	if (out->n_transactions == 0)
	{
		out->error_segment = 0;
		snprintf(out->error, sizeof(out->error), "the file has no 835 transaction set (ST*835)");
		return false;
	}
	return true;
}

const char *
x835_status_label(int status)
{
	switch (status)
	{
		case 1:
			return "processed as primary";
		case 2:
			return "processed as secondary";
		case 3:
			return "processed as tertiary";
		case 4:
			return "denied";
		case 5:
			return "pended";
		case 10:
			return "received, not in process";
		case 13:
			return "suspended";
		case 15:
			return "suspended, investigation";
		case 16:
			return "suspended, return with material";
		case 17:
			return "suspended, review pending";
		case 19:
			return "processed as primary, forwarded";
		case 20:
			return "processed as secondary, forwarded";
		case 21:
			return "processed as tertiary, forwarded";
		case 22:
			return "reversal of previous payment";
		case 23:
			return "not our claim, forwarded";
		case 25:
			return "predetermination pricing only";
		case 27:
			return "reviewed";
		default:
			return NULL;
	}
}

x835_cents
x835_patient_responsibility(const X835Claim *claim)
{
	x835_cents	owed;

	if (claim->status == X835_STATUS_PREDETERMINATION)
		return 0;				/* no claim was paid: nothing is owed yet */

	if (claim->n_cas > 0)
		owed = claim->group_total[X835_GROUP_PR] + claim->cr_patient;
	else
		owed = claim->has_clp05 ? claim->clp05 : 0;
	/* a reversal only ever takes back, whatever sign the payer used */
	if (claim->status == X835_STATUS_REVERSAL && owed > 0)
		owed = -owed;
	return owed;
}
