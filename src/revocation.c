/*
 * revocation.c: TCPA revocation of consent "by any reasonable means"
 * (47 CFR 64.1200(a)(10), FCC 24-24): the standard keywords (STOP, QUIT,
 * END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE, STOPALL) and their Spanish
 * counterparts as the whole message (give or take "please" and
 * punctuation), and free-text phrases that plainly ask for no more
 * contact. When in doubt it says yes: a wrong "yes" costs one channel, a
 * wrong "no" is a violation. Pure: no SPI, no clock.
 */
#include "collect.h"

#include "revocation.h"

/* a whole-message keyword */
static const char *const keywords[] = {
	"stop", "stopall", "stop all", "quit", "end", "revoke", "opt out", "optout", "opt-out", "cancel",
	"unsubscribe", "unsub", "remove", "alto", "para", "pare", "basta", "cancelar", "baja", "detener",
};

/* words that may stand around a keyword without changing its meaning */
static const char *const fillers[] = {
	"please", "pls", "plz", "now", "thanks", "thank you", "por favor", "ya", "gracias", "me", "it", "this",
};

/* free-text phrases (matched on word boundaries) */
static const char *const phrases[] = {
	"stop texting", "stop calling", "stop sending", "stop messaging", "stop contacting", "stop the texts",
	"stop the calls", "stop the messages", "stop emailing", "stop mailing",
	"dont text", "do not text", "dont call", "do not call", "dont contact", "do not contact",
	"dont email", "do not email", "dont message", "do not message",
	"no more texts", "no more text", "no more messages", "no more calls", "no more emails",
	"remove me", "take me off", "unsubscribe", "opt out", "opt me out", "optout", "leave me alone",
	"revoke", "withdraw my consent", "i revoke", "not contact me", "never contact me", "lose my number",
	"wrong number",
	"no me llamen", "no me llame", "no me escriban", "no me escriba", "no me manden", "no me envien",
	"no mas mensajes", "no mas llamadas", "dejen de", "deje de", "darme de baja", "quitenme", "quiteme",
};

/* lower-case letters and digits, runs of anything else as one space, accents folded (UTF-8 á é í ó ú ñ) */
static char *
normalize(const char *body)
{
	size_t		n = strlen(body);
	char	   *out = palloc(n + 3);
	size_t		o = 0;
	bool		space = true;

	out[o++] = ' ';
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) body[i];
		char		ch = 0;

		if (c == 0xC3 && i + 1 < n)
		{
			unsigned char d = (unsigned char) body[++i];

			ch = (d == 0xA1 || d == 0x81) ? 'a' : (d == 0xA9 || d == 0x89) ? 'e' :
				(d == 0xAD || d == 0x8D) ? 'i' : (d == 0xB3 || d == 0x93) ? 'o' :
				(d == 0xBA || d == 0x9A || d == 0xBC) ? 'u' : (d == 0xB1 || d == 0x91) ? 'n' : 0;
		}
		else if (c == '\'' || c == 0xE2)	/* don't -> dont; curly quotes (E2 80 99) */
		{
			if (c == 0xE2)
				i += 2;
			continue;
		}
		else if (isalnum(c))
			ch = (char) tolower(c);
		if (ch != 0)
		{
			out[o++] = ch;
			space = false;
		}
		else if (!space)
		{
			out[o++] = ' ';
			space = true;
		}
	}
	if (!space)
		out[o++] = ' ';
	out[o] = '\0';
	return out;
}

/* remove every " word " of list from s (in place) */
static void
strip_words(char *s, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
	{
		char	   *w = psprintf(" %s ", list[i]);
		char	   *p;

		while ((p = strstr(s, w)) != NULL)
			memmove(p, p + strlen(w) - 1, strlen(p + strlen(w) - 1) + 1);
	}
}

bool
tcpa_is_revocation(const char *body)
{
	char	   *s = normalize(body);

	for (size_t i = 0; i < lengthof(phrases); i++)
		if (strstr(s, psprintf(" %s ", phrases[i])) != NULL)
			return true;
	strip_words(s, fillers, lengthof(fillers));
	for (size_t i = 0; i < lengthof(keywords); i++)
		if (strcmp(s, psprintf(" %s ", keywords[i])) == 0)
			return true;
	/* the same keyword repeated ("STOP STOP STOP") */
	for (size_t i = 0; i < lengthof(keywords); i++)
	{
		char	   *k = psprintf(" %s", keywords[i]);
		char	   *p = s;
		size_t		kl = strlen(k);

		while (strncmp(p, k, kl) == 0)
			p += kl;
		if (p != s && strcmp(p, " ") == 0)
			return true;
	}
	return false;
}

PG_FUNCTION_INFO_V1(collect_is_revocation);

Datum
collect_is_revocation(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	if (VARSIZE_ANY_EXHDR(t) > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("message too long to classify (%d bytes, at most 10000)", (int) VARSIZE_ANY_EXHDR(t))));
	PG_RETURN_BOOL(tcpa_is_revocation(text_to_cstring(t)));
}
