/*
 * providers/llm.c: the optional LLM fallback for replies the rules leave
 * unknown. Builds an OpenAI-compatible chat completion request (POST
 * {base_url}/v1/chat/completions, Bearer key, settings "model" and
 * "path") whose only user content is the reply text, and reads one intent
 * label from the fixed list out of the answer. No SPI; the key goes only
 * into the Authorization header.
 */
#include "worker.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "reply_classify.h"

#define LLM_DEFAULT_MODEL "gpt-4o-mini"
#define LLM_DEFAULT_PATH "/v1/chat/completions"

static const char *const llm_instructions =
"You classify a patient's reply to a message from a medical practice's billing office. "
"Answer with exactly one label and nothing else: "
"pay (wants to pay now), plan (wants a payment plan), accept (yes to an offer), "
"stop (no more messages), already_paid, insurance (insurance should pay), "
"hardship (cannot afford), dispute (wrong bill), upset, question, unknown.";

void
llm_build(Delivery *d)
{
	OutboxMessage *m = d->msg;
	char	   *model = json_lookup(m->settings, "model", NULL);
	char	   *path = json_lookup(m->settings, "path", NULL);
	StringInfoData js;

	if (m->secret == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "llm: provider secret is not set");
		return;
	}
	initStringInfo(&js);
	appendStringInfoString(&js, "{\"model\":");
	json_add_string(&js, model ? model : LLM_DEFAULT_MODEL);
	appendStringInfoString(&js, ",\"temperature\":0,\"max_tokens\":8,\"messages\":[{\"role\":\"system\",\"content\":");
	json_add_string(&js, llm_instructions);
	appendStringInfoString(&js, "},{\"role\":\"user\",\"content\":");
	json_add_string(&js, m->body ? m->body : "");
	appendStringInfoString(&js, "}]}");
	request_post(d, path ? path : LLM_DEFAULT_PATH, "application/json", js.data, m->secret);
}

/* the first string under a field named "content": choices[0].message.content */
typedef struct ContentScan
{
	const char *field;
	char	   *content;
} ContentScan;

static void
content_field(void *state, char *fname, bool isnull)
{
	((ContentScan *) state)->field = fname;
}

static void
content_scalar(void *state, char *token, JsonTokenType type)
{
	ContentScan *s = state;

	if (s->content == NULL && type == JSON_TOKEN_STRING && s->field && strcmp(s->field, "content") == 0)
		s->content = token;
	s->field = NULL;
}

/*
 * The one intent label named in the model's text, matched as a whole word
 * after lower-casing (so "Plan." and "already paid" count); two different
 * labels, or none, give "unknown".
 */
const char *
llm_label(const char *text)
{
	StringInfoData norm;
	const char *found = NULL;

	initStringInfo(&norm);
	appendStringInfoChar(&norm, ' ');
	for (const char *p = text; *p; p++)
		appendStringInfoChar(&norm, (*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' :
							 (*p >= 'a' && *p <= 'z') ? *p : ' ');
	appendStringInfoChar(&norm, ' ');
	for (int i = 0; i < RI_N_INTENTS; i++)
	{
		char	   *word = psprintf(" %s ", reply_intent_name((ReplyIntent) i));

		for (char *u = word; *u; u++)
			if (*u == '_')
				*u = ' ';
		if (strstr(norm.data, word) != NULL)
		{
			if (found != NULL && strcmp(found, reply_intent_name((ReplyIntent) i)) != 0)
				return "unknown";
			found = reply_intent_name((ReplyIntent) i);
		}
	}
	return found ? found : "unknown";
}

void
llm_parse(Delivery *d)
{
	ContentScan s = {NULL, NULL};
	JsonSemAction sem;
	JsonLexContext *lex;

	if (d->req.status < 200 || d->req.status > 299)
	{
		delivery_classify_http(d, "llm");
		return;
	}
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &s;
	sem.object_field_start = content_field;
	sem.scalar = content_scalar;
	lex = makeJsonLexContextCstringLen(pstrdup(d->req.response.data), d->req.response.len, PG_UTF8, true);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS || s.content == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "llm: the answer has no choices[0].message.content");
		return;
	}
	d->result = DELIVERY_SENT;
	d->provider_ref = pstrdup(llm_label(s.content));
}
