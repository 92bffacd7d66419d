/*
 * providers/common.c: what the provider files share: reading a field out of
 * a provider's JSON answer without ever throwing, form and JSON encoding,
 * the URL host, exact dollars-to-cents, and the generic reading of an HTTP
 * outcome (transport error, 429/5xx retry, 4xx permanent). No SPI, no
 * logging of request data, never copies a secret into an error text.
 */
#include "worker.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"

#define JPATH_MAX 6

/* pg_parse_json state: the current path of field names and array levels */
typedef struct JsonScan
{
	int			depth;
	const char *path[JPATH_MAX];	/* field name per object level, NULL in arrays */
	char	   *fname[JPATH_MAX];
	/* lookup */
	const char *key1;
	const char *key2;
	char	   *found;
	/* string array of a top-level key */
	bool		collect_array;
	List	   *strings;
	/* array of objects at a top-level key: fields wanted per element */
	bool		collect_objects;
	int			n_fields;
	const char *fields[8];
	List	   *rows;			/* of char *[8] */
	char	  **current;
} JsonScan;

static void
js_object_start(void *state)
{
	JsonScan   *s = state;

	if (s->collect_objects && s->depth == 2 && s->fname[0] && strcmp(s->fname[0], s->key1) == 0)
	{
		s->current = palloc0(sizeof(char *) * 8);
		s->rows = lappend(s->rows, s->current);
	}
	s->depth++;
	if (s->depth < JPATH_MAX)
		s->fname[s->depth - 1] = NULL;
}

static void
js_object_end(void *state)
{
	JsonScan   *s = state;

	s->depth--;
	if (s->collect_objects && s->depth == 2)
		s->current = NULL;
}

static void
js_array_start(void *state)
{
	JsonScan   *s = state;

	s->depth++;
	if (s->depth < JPATH_MAX)
		s->fname[s->depth - 1] = NULL;
}

static void
js_array_end(void *state)
{
	((JsonScan *) state)->depth--;
}

static void
js_field_start(void *state, char *fname, bool isnull)
{
	JsonScan   *s = state;

	if (s->depth >= 1 && s->depth <= JPATH_MAX)
		s->fname[s->depth - 1] = fname;
}

static void
js_scalar(void *state, char *token, JsonTokenType type)
{
	JsonScan   *s = state;

	if (type == JSON_TOKEN_NULL)
		return;
	if (s->collect_objects)
	{
		if (s->current && s->depth == 3)
			for (int i = 0; i < s->n_fields; i++)
				if (s->fname[2] && strcmp(s->fname[2], s->fields[i]) == 0)
					s->current[i] = pstrdup(token);
		return;
	}
	if (s->collect_array)
	{
		if (s->depth == 2 && s->fname[0] && strcmp(s->fname[0], s->key1) == 0)
			s->strings = lappend(s->strings, pstrdup(token));
		return;
	}
	if (s->found)
		return;
	if (s->key2 == NULL && s->depth == 1 && s->fname[0] && strcmp(s->fname[0], s->key1) == 0)
		s->found = pstrdup(token);
	else if (s->key2 && s->depth == 2 && s->fname[0] && s->fname[1] &&
			 strcmp(s->fname[0], s->key1) == 0 && strcmp(s->fname[1], s->key2) == 0)
		s->found = pstrdup(token);
}

static bool
json_scan(const char *json, JsonScan *s)
{
	JsonLexContext *lex;
	JsonSemAction sem;

	if (json == NULL || *json == '\0')
		return false;
	memset(&sem, 0, sizeof(sem));
	sem.semstate = s;
	sem.object_start = js_object_start;
	sem.object_end = js_object_end;
	sem.array_start = js_array_start;
	sem.array_end = js_array_end;
	sem.object_field_start = js_field_start;
	sem.scalar = js_scalar;
	lex = makeJsonLexContextCstringLen(pstrdup(json), strlen(json), PG_UTF8, true);
	return pg_parse_json(lex, &sem) == JSON_SUCCESS;
}

/* The scalar at key1 (or key1.key2) of a JSON object, or NULL; never throws */
char *
json_lookup(const char *json, const char *key1, const char *key2)
{
	JsonScan	s;

	memset(&s, 0, sizeof(s));
	s.key1 = key1;
	s.key2 = key2;
	if (!json_scan(json, &s))
		return NULL;
	return s.found;
}

/* The strings of the top-level array at key, or NULL with *n = 0 */
char	  **
json_string_array(const char *json, const char *key, int *n)
{
	JsonScan	s;
	char	  **out;
	ListCell   *lc;
	int			i = 0;

	memset(&s, 0, sizeof(s));
	s.key1 = key;
	s.collect_array = true;
	*n = 0;
	if (!json_scan(json, &s) || s.strings == NIL)
		return NULL;
	out = palloc(sizeof(char *) * list_length(s.strings));
	foreach(lc, s.strings)
		out[i++] = lfirst(lc);
	*n = i;
	return out;
}

/* Rows of the array of objects at top-level key, fields[] per element */
List *
json_object_rows(const char *json, const char *key, const char **fields, int n_fields)
{
	JsonScan	s;

	memset(&s, 0, sizeof(s));
	s.key1 = key;
	s.collect_objects = true;
	s.n_fields = Min(n_fields, 8);
	for (int i = 0; i < s.n_fields; i++)
		s.fields[i] = fields[i];
	if (!json_scan(json, &s))
		return NIL;
	return s.rows;
}

/* name=value&... with application/x-www-form-urlencoded escaping */
void
form_add(StringInfo buf, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	if (value == NULL)
		return;
	if (buf->len > 0)
		appendStringInfoChar(buf, '&');
	for (int pass = 0; pass < 2; pass++)
	{
		const unsigned char *p = (const unsigned char *) (pass == 0 ? name : value);

		for (; *p; p++)
		{
			if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
				appendStringInfoChar(buf, *p);
			else if (*p == ' ')
				appendStringInfoChar(buf, '+');
			else
			{
				appendStringInfoChar(buf, '%');
				appendStringInfoChar(buf, hex[*p >> 4]);
				appendStringInfoChar(buf, hex[*p & 15]);
			}
		}
		if (pass == 0)
			appendStringInfoChar(buf, '=');
	}
}

/*
 * Fill d->req as a POST of body to base_url + path, with the content type,
 * an optional Bearer token and the message's Idempotency-Key header.
 */
void
request_post(Delivery *d, const char *path, const char *content_type, char *body, const char *bearer)
{
	char	   *base = pstrdup(d->msg->base_url);
	size_t		len = strlen(base);
	char		hdr[320];

	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	d->req.method = "POST";
	d->req.url = psprintf("%s%s", base, path);
	d->req.body = body;
	snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type);
	d->req.headers = curl_slist_append(NULL, hdr);
	if (bearer)
	{
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", bearer);
		d->req.headers = curl_slist_append(d->req.headers, hdr);
		explicit_bzero(hdr, sizeof(hdr));
	}
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", d->msg->idempotency_key);
	d->req.headers = curl_slist_append(d->req.headers, hdr);
	d->has_request = true;
}

/* a JSON string literal (NULL becomes null) */
void
json_add_string(StringInfo buf, const char *value)
{
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/* the host part of an http(s) URL, lower-cased, or NULL */
char *
url_host(const char *url)
{
	const char *p;
	const char *end;
	char	   *host;

	if (url == NULL)
		return NULL;
	if (pg_strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (pg_strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return NULL;
	end = p + strcspn(p, "/?#");
	/* userinfo is refused outright: it would hide the real host */
	if (memchr(p, '@', end - p))
		return NULL;
	if (*p == '[')
	{
		const char *close = memchr(p, ']', end - p);

		if (close == NULL)
			return NULL;
		end = close + 1;
	}
	else
	{
		const char *colon = memchr(p, ':', end - p);

		if (colon)
			end = colon;
	}
	if (end == p)
		return NULL;
	host = pnstrdup(p, end - p);
	for (char *c = host; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	return host;
}

/* "123.45" / "123" / "123.4" to cents exactly; false if not a plain amount */
bool
cents_from_text(const char *s, int64 *out)
{
	int64		whole = 0;
	int			frac = 0,
				digits = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		whole = whole * 10 + (*p - '0');
		if (whole > INT64CONST(1000000000000))
			return false;
	}
	if (p == s)
		return false;
	if (*p == '.')
	{
		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			if (digits == 2)
			{
				if (*p != '0')
					return false;	/* fractions of a cent */
				continue;
			}
			frac = frac * 10 + (*p - '0');
			digits++;
		}
		if (digits == 1)
			frac *= 10;
	}
	if (*p != '\0')
		return false;
	*out = whole * 100 + frac;
	return true;
}

void
delivery_fail(Delivery *d, DeliveryResult r, const char *fmt,...)
{
	va_list		args;
	char		buf[512];

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	d->result = r;
	d->error = pstrdup(buf);
}

/*
 * The common reading of an HTTP outcome for a request that did not
 * succeed: no answer or 408/425/429/5xx are transient (retried, honouring
 * Retry-After), 401/403 too (credentials get fixed), any other 4xx is
 * permanent. The error text holds the status and the provider's own error
 * message, never the request.
 */
void
delivery_classify_http(Delivery *d, const char *what)
{
	HttpRequest *q = &d->req;
	long		st = q->status;
	char	   *msg = NULL;

	d->retry_after = q->retry_after;
	if (st == 0 && q->blocked)
	{
		delivery_fail(d, DELIVERY_FAILED, "%s: %s", what, q->error);
		return;
	}
	if (st == 0)
	{
		delivery_fail(d, DELIVERY_RETRY, "%s: no answer: %s", what, q->error);
		return;
	}
	msg = json_lookup(q->response.data, "message", NULL);
	if (msg == NULL)
		msg = json_lookup(q->response.data, "error", "message");
	if (msg == NULL)
	{
		char	   *code = json_lookup(q->response.data, "code", NULL);

		msg = code;
	}
	if (msg && strlen(msg) > 200)
		msg[200] = '\0';
	if (st == 408 || st == 425 || st == 429 || st >= 500 || st == 401 || st == 403)
		delivery_fail(d, DELIVERY_RETRY, "%s: HTTP %ld%s%s", what, st, msg ? ": " : "", msg ? msg : "");
	else
		delivery_fail(d, DELIVERY_FAILED, "%s: HTTP %ld%s%s", what, st, msg ? ": " : "", msg ? msg : "");
}
