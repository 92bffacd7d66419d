/*
 * reply_classify.c: what a patient's text reply means. Normalizes UTF-8
 * text (case, accents, emoji, punctuation, letters repeated for emphasis),
 * matches English and Spanish phrase rules that tolerate one-letter typos
 * and honour negation, and scores sentiment from a small lexicon with
 * negation, intensifiers, capitals, exclamation marks and sarcasm cues.
 *
 * Pure C over libc: no PostgreSQL headers, no allocation, no globals that
 * change, no I/O. Must never read past len bytes nor write past the caller's
 * ReplyClass, whatever the input (it is fuzzed with libFuzzer).
 */
#include "reply_classify.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Normalization                                                       */
/* ------------------------------------------------------------------ */

typedef struct Tok
{
	int			n;
	char		t[REPLY_MAX_TOKENS][REPLY_TOKEN_LEN];
	unsigned char caps[REPLY_MAX_TOKENS];	/* token was written in capitals */
	int			n_exclaim;
	int			n_upper;
	int			n_lower;
} Tok;

/* U+00C0..U+00FF folded to ASCII; '.' = separator */
static const char latin1_fold[64] =
"AAAAAAACEEEEIIIIDNOOOOO.OUUUUYTsaaaaaaaceeeeiiiidnooooo.ouuuuyty";

/* Decode one UTF-8 code point; returns bytes used (>= 1), cp = 0xFFFD if bad */
static int
utf8_next(const unsigned char *s, size_t len, unsigned int *cp)
{
	unsigned int c = s[0];
	int			need, i;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if ((c & 0xE0) == 0xC0)
	{
		need = 1;
		c &= 0x1F;
	}
	else if ((c & 0xF0) == 0xE0)
	{
		need = 2;
		c &= 0x0F;
	}
	else if ((c & 0xF8) == 0xF0)
	{
		need = 3;
		c &= 0x07;
	}
	else
	{
		*cp = 0xFFFD;
		return 1;
	}
	if ((size_t) need >= len)
	{
		*cp = 0xFFFD;
		return 1;
	}
	for (i = 1; i <= need; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
		{
			*cp = 0xFFFD;
			return 1;
		}
		c = (c << 6) | (s[i] & 0x3F);
	}
	*cp = c;
	return need + 1;
}

/* An emoji or symbol with a meaning, as a pseudo-word; NULL if none */
static const char *
emoji_word(unsigned int cp)
{
	switch (cp)
	{
		case 0x1F620: case 0x1F621: case 0x1F92C: case 0x1F47F: case 0x1F595:
		case 0x1F624: case 0x1F4A2:
			return "emo_angry";
		case 0x1F622: case 0x1F62D: case 0x1F61E: case 0x1F614: case 0x2639:
		case 0x1F641: case 0x1F625: case 0x1F629: case 0x1F62B:
			return "emo_sad";
		case 0x1F644: case 0x1F612: case 0x1F611:
			return "emo_eyeroll";
		case 0x1F602: case 0x1F923:
			return "emo_laugh";
		case 0x1F44D: case 0x1F44C: case 0x2705: case 0x2714: case 0x2611:
			return "emo_ok";
		case 0x1F44E:
			return "emo_no";
		case 0x1F642: case 0x263A: case 0x1F60A: case 0x1F600: case 0x1F601:
		case 0x1F603: case 0x1F604: case 0x1F609: case 0x1F60D: case 0x1F917:
			return "emo_smile";
		case 0x2764: case 0x1F64F: case 0x1F499: case 0x1F49A: case 0x1F49C:
		case 0x1F496: case 0x1F495:
			return "emo_heart";
		case 0x1F6D1: case 0x270B: case 0x26D4: case 0x1F6AB: case 0x1F910:
			return "emo_stop";
		default:
			return NULL;
	}
}

/* Squeeze runs of three or more equal letters to one ("stooop" -> "stop") */
static void
squeeze_runs(char *w)
{
	int			r = 0,
				o = 0;

	while (w[r])
	{
		int			run = 1;

		while (w[r + run] == w[r])
			run++;
		if (run >= 3 && w[r] != '*')
			w[o++] = w[r];
		else
		{
			int			k;

			for (k = 0; k < run; k++)
				w[o++] = w[r];
		}
		r += run;
	}
	w[o] = '\0';
}

static void
tok_push(Tok *tk, const char *w, int caps)
{
	if (tk->n >= REPLY_MAX_TOKENS || w[0] == '\0')
		return;
	/* boundaries never repeat nor open the message */
	if ((strcmp(w, "|") == 0 || strcmp(w, "?") == 0) &&
		(tk->n == 0 || strcmp(tk->t[tk->n - 1], "|") == 0 || strcmp(tk->t[tk->n - 1], "?") == 0))
	{
		if (tk->n > 0 && strcmp(w, "?") == 0)
			strcpy(tk->t[tk->n - 1], "?");
		return;
	}
	strncpy(tk->t[tk->n], w, REPLY_TOKEN_LEN - 1);
	tk->t[tk->n][REPLY_TOKEN_LEN - 1] = '\0';
	tk->caps[tk->n] = (unsigned char) caps;
	tk->n++;
}

static void
tokenize(const char *text, size_t len, Tok *tk)
{
	const unsigned char *s = (const unsigned char *) text;
	size_t		i = 0;
	char		word[REPLY_TOKEN_LEN];
	int			wl = 0,
				wupper = 0,
				wlower = 0;

	memset(tk, 0, sizeof(*tk));
	if (len > REPLY_MAX_INPUT)
		len = REPLY_MAX_INPUT;

#define FLUSH() do { \
		if (wl > 0) { \
			word[wl] = '\0'; squeeze_runs(word); \
			tok_push(tk, word, wupper >= 2 && wlower == 0); \
		} \
		wl = 0; wupper = 0; wlower = 0; \
	} while (0)

	while (i < len)
	{
		unsigned int cp;
		int			used = utf8_next(s + i, len - i, &cp);
		char		c = 0;
		const char *emo;

		i += used;
		if (cp < 0x80)
		{
			if (cp >= 'A' && cp <= 'Z')
			{
				c = (char) (cp - 'A' + 'a');
				wupper++;
				tk->n_upper++;
			}
			else if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '*')
			{
				c = (char) cp;
				if (cp >= 'a')
				{
					wlower++;
					tk->n_lower++;
				}
			}
			else if (cp == '\'' || cp == '`')
				continue;		/* don't -> dont */
			else if (cp == '?')
			{
				FLUSH();
				tok_push(tk, "?", 0);
				continue;
			}
			else if (cp == '.' || cp == ',' || cp == ';' || cp == ':' || cp == '!' ||
					 cp == '\n' || cp == '(' || cp == ')')
			{
				if (cp == '!')
					tk->n_exclaim++;
				FLUSH();
				tok_push(tk, "|", 0);
				continue;
			}
			else
			{
				FLUSH();
				continue;
			}
		}
		else if (cp >= 0xC0 && cp <= 0xFF && latin1_fold[cp - 0xC0] != '.')
		{
			char		f = latin1_fold[cp - 0xC0];

			if (f >= 'A' && f <= 'Z')
			{
				c = (char) (f - 'A' + 'a');
				wupper++;
				tk->n_upper++;
			}
			else
			{
				c = f;
				wlower++;
				tk->n_lower++;
			}
		}
		else if (cp == 0x2019 || cp == 0x2018 || cp == 0x00B4 ||
				 (cp >= 0x0300 && cp <= 0x036F) || cp == 0xFE0F || cp == 0x200D ||
				 (cp >= 0x1F3FB && cp <= 0x1F3FF))
			continue;			/* apostrophes, combining accents, emoji modifiers */
		else if (cp == 0xBF || cp == 0xA1 || cp == 0x2026)
		{
			if (cp == 0xA1)
				tk->n_exclaim++;
			FLUSH();
			tok_push(tk, "|", 0);
			continue;
		}
		else if ((emo = emoji_word(cp)) != NULL)
		{
			FLUSH();
			tok_push(tk, emo, 0);
			continue;
		}
		else
		{
			FLUSH();
			continue;
		}
		if (wl < REPLY_TOKEN_LEN - 1)
			word[wl++] = c;
	}
	FLUSH();
#undef FLUSH

	/* drop a trailing boundary "|" (keep a final "?") */
	if (tk->n > 0 && strcmp(tk->t[tk->n - 1], "|") == 0)
		tk->n--;

	/* "S T O P": three or more single letters and nothing else become one word */
	if (tk->n >= 3 && tk->n < REPLY_TOKEN_LEN)
	{
		int			k,
					single = 1;

		for (k = 0; k < tk->n; k++)
			if (strlen(tk->t[k]) != 1 || tk->t[k][0] < 'a' || tk->t[k][0] > 'z')
				single = 0;
		if (single)
		{
			char		joined[REPLY_TOKEN_LEN];

			for (k = 0; k < tk->n; k++)
				joined[k] = tk->t[k][0];
			joined[tk->n] = '\0';
			strcpy(tk->t[0], joined);
			tk->n = 1;
		}
	}
}

int
reply_normalize(const char *text, size_t len, char *out, size_t outsz)
{
	Tok			tk;
	size_t		o = 0;
	int			k;

	tokenize(text, len, &tk);
	if (outsz == 0)
		return tk.n;
	for (k = 0; k < tk.n; k++)
	{
		size_t		l = strlen(tk.t[k]);

		if (o + l + 2 > outsz)
			break;
		if (k > 0)
			out[o++] = ' ';
		memcpy(out + o, tk.t[k], l);
		o += l;
	}
	out[o] = '\0';
	return tk.n;
}

/* ------------------------------------------------------------------ */
/* Word matching                                                       */
/* ------------------------------------------------------------------ */

int
reply_within_one_edit(const char *a, const char *b)
{
	size_t		la = strlen(a),
				lb = strlen(b),
				i = 0;

	if (la > lb + 1 || lb > la + 1)
		return 0;
	while (i < la && i < lb && a[i] == b[i])
		i++;
	if (i == la && i == lb)
		return 1;
	if (la == lb)
	{
		/* one substitution, or one swap of neighbours */
		if (strcmp(a + i + 1, b + i + 1) == 0)
			return 1;
		return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
			strcmp(a + i + 2, b + i + 2) == 0;
	}
	if (la > lb)
		return strcmp(a + i + 1, b + i) == 0;
	return strcmp(a + i, b + i + 1) == 0;
}

/*
 * Does token t match one alternative w of a rule? w is a word ("plan":
 * exact, or within one edit when 4+ letters long and the first letter
 * agrees; 3 letters allow a swap), "=word" (exact), or "word*" (prefix).
 * A letter repeated at the end ("sii", "yesss") still matches.
 */
static int
word_match(const char *t, const char *w, size_t wl)
{
	char		buf[REPLY_TOKEN_LEN];
	size_t		tl = strlen(t);
	int			exact = 0;

	if (wl == 0 || wl >= REPLY_TOKEN_LEN)
		return 0;
	if (w[0] == '=')
	{
		exact = 1;
		w++;
		wl--;
	}
	if (w[wl - 1] == '*')
		return tl >= wl - 1 && strncmp(t, w, wl - 1) == 0;
	memcpy(buf, w, wl);
	buf[wl] = '\0';
	if (strcmp(t, buf) == 0)
		return 1;
	/* trailing repeated letter */
	if (tl > wl && strncmp(t, buf, wl) == 0)
	{
		size_t		k;

		for (k = wl; k < tl && t[k] == buf[wl - 1]; k++)
			;
		if (k == tl)
			return 1;
	}
	if (exact || t[0] != buf[0])
		return 0;
	if (wl >= 4)
		return tl >= 4 && reply_within_one_edit(t, buf);
	if (wl == 3 && tl == 3)
		return t[1] == buf[2] && t[2] == buf[1];
	return 0;
}

/* Does token t match any "|"-separated alternative of element e (len el)? */
static int
element_match(const char *t, const char *e, size_t el)
{
	size_t		s = 0;

	if (t[0] == '|' || (t[0] == '?' && !(el == 1 && e[0] == '?')))
		return 0;
	while (s < el)
	{
		size_t		k = s;

		while (k < el && e[k] != '|')
			k++;
		if (word_match(t, e + s, k - s))
			return 1;
		s = k + 1;
	}
	return 0;
}

static int
is_boundary(const char *t)
{
	return t[0] == '|' || (t[0] == '?' && t[1] == '\0');
}

static const char *const negators[] = {
	"no", "not", "never", "dont", "doesnt", "didnt", "wont", "cant", "cannot",
	"isnt", "wasnt", "arent", "shouldnt", "nunca", "ni", "tampoco", "without", "sin", NULL
};

static int
is_negator(const char *t)
{
	int			k;

	for (k = 0; negators[k]; k++)
		if (strcmp(t, negators[k]) == 0)
			return 1;
	return 0;
}

/* A negator in the three words before position p, inside its clause */
static int
negated_at(const Tok *tk, int p)
{
	int			k;

	for (k = p - 1; k >= 0 && k >= p - 3; k--)
	{
		if (is_boundary(tk->t[k]))
			return 0;
		if (is_negator(tk->t[k]))
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Intent rules                                                        */
/* ------------------------------------------------------------------ */

#define R_NONEG 1				/* negation before the match does not cancel it */
#define R_NOGAP 2				/* elements must be adjacent */
#define R_START 4				/* must start at the first word */
#define R_ALL   8				/* every word of the message is in the rule's words */
#define R_WIDE  16				/* gaps up to MAX_WIDE_GAP words */
#define R_FIRST_CLAUSE 32		/* with R_ALL: only the words before the first stop */

#define MAX_GAP 3
#define MAX_WIDE_GAP 6

typedef struct Rule
{
	ReplyIntent intent;
	float		weight;
	int			flags;
	const char *pat;			/* space-separated elements of |-alternatives */
} Rule;

/* words that may pad a one-word reply ("stop please", "yes thanks!") */
#define FILLER "please|pls|plz|por|favor|now|ahora|me|all|ya|todo|todos|thank|thanks|gracias|emo_heart|emo_smile|emo_angry|emo_sad|emo_eyeroll|emo_no"

static const Rule rules[] = {
	/* --- stop: opt-out keywords alone, or phrases asking to stop contact --- */
	{RI_STOP, 100, R_ALL, "stop|stp|stopall|unsubscribe|cancel|end|quit|alto|parar|para|basta|cancelar|optout|revoke|emo_stop opt|out|" FILLER},
	{RI_STOP, 100, R_ALL | R_FIRST_CLAUSE, "stop|stp|stopall|unsubscribe|quit|alto|parar|basta|optout|emo_stop " FILLER},
	{RI_STOP, 100, R_NONEG, "remove|delete|erase|borr*|elimin* =me|my|mi|=mis =number|numero|phone|telefono|info|contact*|datos"},
	{RI_STOP, 100, R_NONEG | R_NOGAP, "remove|delete|erase|borr*|elimin* =me"},
	{RI_STOP, 100, R_NONEG, "stop|quit|alto|para|parar|deja|dejen|deje|dejar|cease|halt text*|txt*|messag*|sms|contact*|call*|email*|send*|sending|harass*|bother*|writ*|escrib*|mand*|envi*|llam*|molest*|these|numb*"},
	{RI_STOP, 100, R_NONEG, "unsubscribe|unsub|desuscrib*|cancelar"},
	{RI_STOP, 100, R_NONEG, "=opt out"},
	{RI_STOP, 100, R_NONEG, "remove|take|borr*|quit*|saq* me|=de|=off list|lista|number|numero"},
	{RI_STOP, 100, R_NONEG, "take me off"},
	{RI_STOP, 100, R_NONEG, "dont|not|no|never text*|txt*|messag*|contact*|call|email*|sms"},
	{RI_STOP, 100, R_NONEG, "no more text*|txt*|messag*|sms|emails|calls"},
	{RI_STOP, 100, R_NONEG, "no|nunca me mand*|envi*|escrib*|text*|llam*|contact*"},
	{RI_STOP, 100, R_NONEG, "no * mas mensaj*|text*|llamad*|correo*"},
	{RI_STOP, 100, R_NONEG, "=no =quiero recibir"},
	{RI_STOP, 100, R_NONEG, "basta de"},
	/* an opt-out word anywhere with a messaging word anywhere after or before it */
	{RI_STOP, 100, R_NONEG | R_WIDE, "stop|quit|cancel|alto|parar|basta|unsubscribe|cancelar text*|txt*|msg*|msj*|messag*|mensaj*|sms|email*|correo*|call*|llam*|notif*|alert*"},
	{RI_STOP, 100, R_NONEG | R_WIDE, "text*|txt*|msg*|messag*|mensaj*|sms|emails|calls stop|quit|cancel|alto|parar|basta|unsubscribe"},
	/* a message that opens with STOP is an opt-out unless it is about charges */
	{RI_STOP, 100, R_NONEG | R_START, "stop|stp|alto|unsubscribe|quit"},
	{RI_STOP, -150, R_NONEG | R_NOGAP, "stop|quit charg*|bill*|wasting|lying|cobrar*|cobrando"},
	{RI_STOP, 100, R_NONEG | R_NOGAP, "darme|dar|den|denme|de de baja"},
	{RI_STOP, 100, R_ALL, "baja darme|de|dar|por|favor|me|ya"},
	{RI_STOP, 100, R_NONEG, "leave me alone"},
	{RI_STOP, 100, R_NONEG, "dejen|deje|dejenme en paz"},

	/* --- already paid --- */
	{RI_ALREADY_PAID, 3, R_NONEG, "already|alredy paid|payed|pay"},
	{RI_ALREADY_PAID, 3, 0, "thought i paid"},
	{RI_ALREADY_PAID, 3, 0, "already|ya charged|cobraron|cobro|debited|took"},
	{RI_ALREADY_PAID, 2.5, R_NOGAP, "i|we|she|he|wife|husband|mom|dad|son|daughter paid|payed"},
	{RI_ALREADY_PAID, 2, 0, "paid|payed it|that|this|in|on|at|online|last|yesterday|off|full"},
	{RI_ALREADY_PAID, 2, R_NOGAP, "was|been paid"},
	{RI_ALREADY_PAID, 2.5, 0, "mailed|sent a|the check"},
	{RI_ALREADY_PAID, 2, 0, "receipt|recibo|confirmation"},
	{RI_ALREADY_PAID, 2.5, 0, "check|payment|cheque|pago cleared|went|cashed|cobraron|cobrado"},
	{RI_ALREADY_PAID, 2.5, R_NOGAP, "=taken care"},
	{RI_ALREADY_PAID, 2, 0, "should be zero|0"},
	{RI_ALREADY_PAID, -3, R_NONEG, "=get|=got paid"},
	{RI_ALREADY_PAID, 3, R_NOGAP, "=ya pague|pago|pagamos|pagado|pagaron|=pagó"},
	{RI_ALREADY_PAID, 3, R_NOGAP, "=ya lo|la|se|les pague|pago|pagamos|pagado|pagaron"},
	{RI_ALREADY_PAID, 3, 0, "=ya hice el pago"},
	{RI_ALREADY_PAID, 3, R_NOGAP, "=ya =lo|=la|=se liquide|liquidamos|liquidado|liquidada|=liquidé"},
	{RI_ALREADY_PAID, -2.5, R_NONEG, "resend|copy|copia|reenviar|another receipt|recibo"},
	{RI_ALREADY_PAID, 3, 0, "=pagado|=pagada"},
	{RI_ALREADY_PAID, 2, R_START, "=pague"},

	/* --- insurance --- */
	{RI_INSURANCE, 2.5, R_NONEG, "insurance|insurer|seguro|aseguranza|medicaid|medicare|eob|tricare|chip"},
	{RI_INSURANCE, -3, R_NONEG, "dont|no|not|without|sin|never|doesnt have|tengo|tiene|tienen insurance|seguro|aseguranza"},
	{RI_INSURANCE, 2, R_WIDE, "insurance|seguro|aseguranza paid|=pago|=pagado|=pagaron|=pagó"},
	{RI_INSURANCE, 2.5, 0, "aetna|cigna|humana|kaiser|anthem|tricare"},
	{RI_INSURANCE, 2.5, R_NOGAP, "medi cal"},
	{RI_INSURANCE, 2.5, 0, "blue cross|shield"},
	{RI_INSURANCE, 2, 0, "united healthcare"},
	{RI_INSURANCE, 1.5, 0, "covered|cover|coverage|cubr*|cubre"},
	{RI_INSURANCE, 2, 0, "owe nothing"},
	{RI_INSURANCE, 2, R_NOGAP, "wrong insurance|seguro"},

	/* --- hardship --- */
	{RI_HARDSHIP, 5, 0, "lost|lose|perdi|perdio job|work|trabajo|empleo|income"},
	{RI_HARDSHIP, 3, R_NOGAP, "laid off"},
	{RI_HARDSHIP, 3, 0, "unemployed|desempleado|desempleada|jobless|broke|quebrado|unemployment|desempleo"},
	{RI_HARDSHIP, 3, 0, "program*|programa* help|ayuda|asistencia|assistance|aid"},
	{RI_HARDSHIP, 3, R_NONEG, "cant|cannot|unable|not|dont afford|aford"},
	{RI_HARDSHIP, 2.5, R_NONEG, "afford|aford"},
	{RI_HARDSHIP, 3, 0, "financial|financiera assistance|help|aid|hardship|ayuda"},
	{RI_HARDSHIP, 2, 0, "assistance|asistencia|ayuda|charity|hardship|caridad"},
	{RI_HARDSHIP, 3, R_NONEG, "no|dont|not|sin money|dinero|income|ingresos|trabajo|empleo|job|working"},
	{RI_HARDSHIP, 3, R_NONEG, "no|dont have|tengo the|con money|dinero|que"},
	{RI_HARDSHIP, 3, 0, "low|bajos income|recursos|ingresos"},
	{RI_HARDSHIP, 3, 0, "sliding scale"},
	{RI_HARDSHIP, 2, 0, "hard|difficult|tough|dificil time|situation|situacion|times"},
	{RI_HARDSHIP, 2, 0, "situacion|momento|tiempos|epoca dificil|duro|dificiles|mala"},
	{RI_HARDSHIP, 2, R_NONEG, "cant|cannot|no work|trabajar|trabajo"},
	{RI_HARDSHIP, 2, 0, "disability|disabled|incapacidad|discapacidad*|ssi|ssdi"},
	{RI_HARDSHIP, 2, R_NOGAP, "social security"},
	{RI_HARDSHIP, 1.5, 0, "tight|barely|apenas"},
	{RI_HARDSHIP, 2, 0, "behind|atrasad* rent|renta|bills|cuentas"},
	{RI_HARDSHIP, 3, R_NONEG, "no me alcanza"},
	{RI_HARDSHIP, 3, R_NONEG, "=sin trabajo|empleo"},
	{RI_HARDSHIP, 3, 0, "=quede sin"},
	{RI_HARDSHIP, 2, R_NONEG, "=no =puedo pagar"},
	{RI_HARDSHIP, 2, R_NONEG, "=cant pay"},
	{RI_HARDSHIP, 1, 0, "discount|descuento|enferma|enfermo|sick|hospital"},
	{RI_HARDSHIP, 1, R_NOGAP, "single mom|mother|dad|parent"},
	{RI_HARDSHIP, 1, R_NOGAP, "madre|padre soltera|soltero"},

	/* --- dispute --- */
	{RI_DISPUTE, 2.5, 0, "wrong|incorrect|mistake|error|equivocad*|incorrect*"},
	{RI_DISPUTE, -3, R_NONEG, "wrong|equivocado number|numero"},
	{RI_DISPUTE, 3, R_NONEG, "never|nunca had|went|been|seen|received|got|fui|he|estuve|recibi"},
	{RI_DISPUTE, 3, R_NONEG, "wasnt|werent|not seen|there"},
	{RI_DISPUTE, 3, R_NONEG, "not|isnt|no my|mine|mi bill|mine|cuenta|cargo|charge|cobro|visit|cita"},
	{RI_DISPUTE, 3, R_NONEG, "=no es mi|mio|mia"},
	{RI_DISPUTE, 3, R_NONEG, "isnt|not mine"},
	{RI_DISPUTE, 3, 0, "charged|cobraron|cobran twice|double|dos|veces"},
	{RI_DISPUTE, 3, 0, "double charged|billed"},
	{RI_DISPUTE, 3, R_NONEG, "dont|no recognize|reconozco"},
	{RI_DISPUTE, -4, R_NONEG, "recognize|reconozco the|el number|numero"},
	{RI_DISPUTE, 3, 0, "dispute|disputo|disputar|overcharg*|overbill*"},
	{RI_DISPUTE, 2.5, R_NOGAP | R_NONEG, "was|were|me told|quoted|dijeron"},
	{RI_DISPUTE, 3, R_NONEG, "never|nobody|nunca|nadie told|informed|dijo|dijeron|avisaron|aviso"},
	{RI_DISPUTE, 3, R_NONEG | R_NOGAP, "=no one told|informed"},
	{RI_DISPUTE, 2.5, R_NOGAP, "too|demasiado|muy high|much|alto|caro|expensive"},
	{RI_DISPUTE, 3, R_NONEG, "=no =estoy de acuerdo"},
	{RI_DISPUTE, 3, R_NONEG | R_NOGAP, "=not|=isnt|=wasnt|=no right|correct|correcto|mine|mio"},
	{RI_DISPUTE, 3, R_NONEG, "=no|=nunca tuve|asisti|recibi|fui"},
	{RI_DISPUTE, 3, R_NONEG, "not|no correct|correcto"},
	{RI_DISPUTE, 3, 0, "cobraron|cobran de mas"},
	{RI_DISPUTE, 2, R_NONEG, "=no debo"},
	{RI_DISPUTE, 2.5, 0, "amount|monto|cantidad|charge|cargo|cobro wrong|mal|equivocad*|incorrect*"},
	{RI_DISPUTE, 1.5, 0, "free|gratis"},

	/* --- upset --- */
	{RI_UPSET, 2, R_NONEG, "ridiculous|ridiculo|joke|unacceptable|unbelievable|terrible|horrible|awful|worst|pesimo|pesima"},
	{RI_UPSET, 2, 0, "harass*|harrass*|report|reporting|lawyer|attorney|abogado|complaint|queja|demanda|sue"},
	{RI_UPSET, 2, 0, "sick|tired|harto|harta|cansado|cansada of|de"},
	{RI_UPSET, 2, R_NONEG, "f***|fuck*|f*ck|shit|sh*t|wtf|damn|bs|bullshit|scam|estafa|ladron*|sinverguenza*|verguenza"},
	{RI_UPSET, 2, 0, "upset|angry|furious|mad|pissed|enojad*|enojo|molest*|furios*|indignad*"},
	{RI_UPSET, 2, R_NONEG, "abuso|respeto|threaten|threat|amenaz*"},
	{RI_UPSET, 2, 0, "emo_angry"},
	{RI_UPSET, 2, 0, "keep bothering|texting|calling|molestando"},
	{RI_UPSET, 2, 0, "thanks for nothing"},
	{RI_UPSET, 2, 0, "done|over with you|this|ustedes"},
	{RI_UPSET, 2, R_NONEG, "pesados|pesado|pesada|unreal|insane|absurd|absurdo|outrageous|greedy|garbage|trash|basura|crap"},

	/* --- plan --- */
	{RI_PLAN, 2.5, 0, "payment|pay plan|plans|arrangement"},
	{RI_PLAN, 3, 0, "arrangement*|arreglo"},
	{RI_PLAN, 3, 0, "acuerdo de pago"},
	{RI_PLAN, -3.5, R_NONEG | R_NOGAP, "hace un|una|unos|unas|dos|tres|=mes|meses|semana|semanas|dias"},
	{RI_PLAN, -3.5, R_NONEG | R_NOGAP, "month|months|week|weeks|days ago"},
	{RI_PLAN, 3, R_NOGAP, "plan de pago|pagos"},
	{RI_PLAN, 2, 0, "plan"},
	{RI_PLAN, 4, 0, "installment*|instalment*|cuotas|plazos|abonos"},
	{RI_PLAN, 3.5, R_NOGAP, "a|per|each|every|cada|al|por|=un month|mes|week|semana|quincena"},
	{RI_PLAN, 3.5, R_NOGAP, "every|cada two|dos|other weeks|semanas|week|semana"},
	{RI_PLAN, 3, 0, "monthly|mensual*|weekly|biweekly|quincenal*"},
	{RI_PLAN, 3, 0, "over|en|in|varios|several|few|couple|next months|meses"},
	{RI_PLAN, 2.5, 0, "split|spread|break|dividir|divide partes|=payments|=pagos|up|out|it"},
	{RI_PLAN, 2.5, 0, "=payments|=pagos"},
	{RI_PLAN, 2.5, 0, "half|mitad now|ahora"},
	{RI_PLAN, 4, 0, "en|por partes"},
	{RI_PLAN, 3.5, 0, "poco a poco"},
	{RI_PLAN, 3, 0, "slowly|gradually|despacio|gradualmente"},
	{RI_PLAN, 3, R_NOGAP, "over time"},
	{RI_PLAN, 3.5, R_NOGAP, "de a poco|poquito"},
	{RI_PLAN, 3, 0, "pagando|abonando poco|parte|partes"},
	{RI_PLAN, 2, 0, "little|bit each|every|at"},
	{RI_PLAN, 3, R_NONEG, "cant|not|dont|no|cannot|unable all|todo at|de once|una"},

	/* --- accept: a yes to an offer --- */
	{RI_ACCEPT, 3, R_ALL, "yes|yeah|yep|yup|ya|y|ok|okay|k|kk|sure|deal|si|claro|emo_ok|sounds|accept|acepto|acuerdo|bien|perfect|perfecto|great|agreed|agree|vale|dale works|good|fine|that|lets|let|do|it|de|esta|me|parece|for|sign|up|please|por|favor|que|plan|the|go|ahead|sounds|set"},
	{RI_ACCEPT, 3, 0, "accept|acepto|aceptamos|agree|agreed"},
	{RI_ACCEPT, 3, R_NOGAP, "go|adelante ahead|adelante"},
	{RI_ACCEPT, 1.5, R_START, "yes|yeah|yep|yup|si|ok|okay|sure|emo_ok"},
	{RI_ACCEPT, 1.5, R_NOGAP, "is|es|esta fine|bien"},
	{RI_ACCEPT, 1.5, 0, "that|plan|esto works|sirve"},
	{RI_ACCEPT, -3, R_NONEG, "yes|si|ok but|pero"},

	/* --- pay --- */
	{RI_PAY, 1, 0, "pay|paying|pagar|pago|payment"},
	{RI_PAY, 2, 0, "ill|will|gonna|going|can|want|wanna|voy|quiero|puedo pay|pagar|paying"},
	{RI_PAY, 2.5, 0, "deposit*|deposito|transfer*|transfiero"},
	{RI_PAY, 2, R_NOGAP, "send|mail|mando|envio it|you|the|el|lo|le|money|dinero|check|cheque"},
	{RI_PAY, 2, R_NOGAP, "=pago|=pagare|=pagamos por|en|el|hoy|manana|esta"},
	{RI_PAY, 2.5, R_NOGAP, "taking|take|taken care"},
	{RI_PAY, 4, R_NOGAP, "just|recien|=acabo paid|payed|=pague|=pagué|de"},
	{RI_PAY, 2.5, 0, "send|sending|mail|mailing|enviando|mandando payment|pago|check|cheque"},
	{RI_PAY, 2.5, 0, "use|usar|with|con card|tarjeta|hsa|fsa|credit|debit|credito|debito"},
	{RI_PAY, 2.5, 0, "settle|settling|liquidar|liquido|saldar"},
	{RI_PAY, 2.5, 0, "paso|ir|voy a dejar|llevar|pagar el dinero|pago|cheque"},
	{RI_PAY, 2.5, 0, "como|donde pago|pagar|pagarlo|pagarla"},
	{RI_PAY, 2.5, 0, "ill|will|gonna pay"},
	{RI_PAY, 2.5, 0, "pay|paying|pago|pagar today|tonight|tomorrow|friday|monday|tuesday|wednesday|thursday|saturday|sunday|weekend|week|1st|15th|paycheck|hoy|manana|viernes|lunes|semana|sin"},
	{RI_PAY, 2.5, 0, "send|resend|text|mande|mandeme|mandame|envie|envieme link|enlace|liga"},
	{RI_PAY, 2.5, 0, "link|enlace pay|pagar|pago"},
	{RI_PAY, 2.5, 0, "how|where|como|donde do|can|puedo|pago|to|i pay|pagar|pago"},
	{RI_PAY, 2.5, R_NOGAP, "=paying now|off|it"},
	{RI_PAY, 2.5, 0, "pay with|by|con card|tarjeta|phone|telefono|apple|online|check"},
	{RI_PAY, 2.5, 0, "take care of it"},
	{RI_PAY, 2.5, 0, "drop|bring|mail check|cheque"},
	{RI_PAY, 2.5, 0, "sent|just payment"},
	{RI_PAY, 2.5, R_NOGAP, "hago|hare|hacer el pago"},
	{RI_PAY, 2.5, R_NOGAP, "le|lo|te|ahorita|mero pago|pagare|pago"},
	{RI_PAY, 2.5, 0, "pasar|paso|ir|voy a pagar"},
	{RI_PAY, 2, 0, "unos dias"},

	/* --- question --- */
	{RI_QUESTION, 2, 0, "what|whats|que is|es this|esto|the|for|about|date|visit|este"},
	{RI_QUESTION, 2, 0, "what|whats|que|para for|about|es"},
	{RI_QUESTION, 2.5, R_NOGAP, "why|por do|did|que i|owe|debo|is"},
	{RI_QUESTION, 2.5, 0, "how|cuanto|cuanta much|debo|es|owe"},
	{RI_QUESTION, 3.5, 0, "how much did insurance|seguro"},
	{RI_QUESTION, 2.5, 0, "who|quien is|es|this|habla|are"},
	{RI_QUESTION, 2.5, R_ALL, "who|quien|?"},
	{RI_QUESTION, 2, 0, "balance|saldo|itemized|detallad*|statement|explain|explicar|explicarme|explique"},
	{RI_QUESTION, 2, 0, "which|when|cual|cuando|que|what visit|due|cita|fecha|date|appointment|appt"},
	{RI_QUESTION, 2, 0, "is|es this|de for|la my|mi"},
	{RI_QUESTION, 2, 0, "de que es"},
	{RI_QUESTION, 2, R_NOGAP, "=por =que"},
	{RI_QUESTION, 2, 0, "=why"},
	{RI_QUESTION, 2.5, 0, "=cuanto|=cuanta|=cuantos"},
	{RI_QUESTION, 2.5, 0, "total|amount|balance i|do owe|due"},
	{RI_QUESTION, 2, 0, "what|whats|which the|my total|amount|balance"},
	{RI_QUESTION, 2, R_NONEG, "dont|no understand|entiendo"},
};

#define N_RULES ((int) (sizeof(rules) / sizeof(rules[0])))

/* Length of element starting at p (up to the next space or end) */
static size_t
element_len(const char *p)
{
	size_t		n = 0;

	while (p[n] && p[n] != ' ')
		n++;
	return n;
}

/* Match elements of pat (from p) at token positions >= pos; returns 1 if so */
static int
match_from(const Tok *tk, const char *p, int pos, int gap)
{
	size_t		el;
	int			k,
				last;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 1;
	el = element_len(p);
	last = pos + gap;
	for (k = pos; k < tk->n && k <= last; k++)
	{
		if (element_match(tk->t[k], p, el) && match_from(tk, p + el, k + 1, gap))
			return 1;
		if (is_boundary(tk->t[k]))
			break;				/* gaps stay inside a clause */
	}
	return 0;
}

/*
 * R_ALL: every non-boundary word matches some word of the rule, and one of
 * them matches the rule's first element (its core: "thanks" alone is not
 * "stop please").
 */
static int
all_words_in(const Tok *tk, const char *pat, int first_clause)
{
	int			k,
				words = 0,
				core = 0;
	size_t		core_len = element_len(pat);

	for (k = 0; k < tk->n; k++)
	{
		const char *p = pat;
		int			found = 0;

		if (is_boundary(tk->t[k]))
		{
			if (first_clause && words > 0)
				break;
			continue;
		}
		words++;
		while (*p && !found)
		{
			size_t		el;

			while (*p == ' ')
				p++;
			el = element_len(p);
			if (el > 0 && element_match(tk->t[k], p, el))
				found = 1;
			p += el;
		}
		if (!found)
			return 0;
		if (element_match(tk->t[k], pat, core_len))
			core = 1;
	}
	return words > 0 && core;
}

static int
rule_matches(const Tok *tk, const Rule *r)
{
	size_t		el = element_len(r->pat);
	int			k;

	if (r->flags & R_ALL)
		return all_words_in(tk, r->pat, (r->flags & R_FIRST_CLAUSE) != 0);
	for (k = 0; k < tk->n; k++)
	{
		if ((r->flags & R_START) && k > 0)
			break;
		if (!element_match(tk->t[k], r->pat, el))
			continue;
		if (!match_from(tk, r->pat + el, k + 1,
						(r->flags & R_NOGAP) ? 0 : (r->flags & R_WIDE) ? MAX_WIDE_GAP : MAX_GAP))
			continue;
		if (!(r->flags & R_NONEG) && negated_at(tk, k))
			continue;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sentiment                                                           */
/* ------------------------------------------------------------------ */

typedef struct LexEntry
{
	const char *word;			/* as in rules: word, =word, word* */
	float		value;
} LexEntry;

static const LexEntry lexicon[] = {
	/* negative, English */
	{"ridiculous", -2.2f}, {"joke", -1.5f}, {"terrible", -2.5f}, {"horrible", -2.5f},
	{"awful", -2.5f}, {"worst", -3.0f}, {"unacceptable", -2.5f}, {"unbelievable", -1.5f},
	{"harass*", -2.5f}, {"harrass*", -2.5f}, {"bother*", -1.5f}, {"annoy*", -2.0f},
	{"upset", -2.0f}, {"angry", -2.5f}, {"furious", -3.0f}, {"mad", -2.0f}, {"pissed", -2.8f},
	{"hate", -2.7f}, {"stupid", -2.5f}, {"rude", -2.0f}, {"scam", -2.5f}, {"sick", -1.5f},
	{"lawyer", -1.2f}, {"attorney", -1.2f}, {"complaint", -1.5f}, {"report", -0.8f},
	{"threaten", -2.0f}, {"threat", -2.0f}, {"fuck*", -3.0f}, {"f***", -3.0f}, {"f*ck", -3.0f},
	{"shit", -2.5f}, {"sh*t", -2.5f}, {"wtf", -2.5f}, {"damn", -1.5f}, {"bs", -1.5f},
	{"incompetent", -2.5f}, {"disgusting", -3.0f}, {"nothing", -0.3f}, {"sorry", -0.3f},
	{"broke", -1.2f}, {"hard", -0.8f}, {"difficult", -0.8f}, {"tight", -0.5f},
	{"wrong", -1.0f}, {"mistake", -1.0f}, {"problem", -1.0f}, {"sad", -1.8f}, {"tired", -1.2f},
	{"useless", -2.5f}, {"pathetic", -2.5f}, {"never", -0.5f}, {"unreal", -1.5f}, {"insane", -2.0f},
	{"outrageous", -2.5f}, {"greedy", -2.0f}, {"done", -0.5f}, {"garbage", -2.0f}, {"crap", -2.0f},
	{"absurd", -2.0f}, {"wasting", -1.2f},
	/* negative, Spanish */
	{"ridiculo", -2.2f}, {"abuso", -2.5f}, {"molest*", -2.0f}, {"harto", -2.5f}, {"harta", -2.5f},
	{"ladron*", -3.0f}, {"pesimo", -3.0f}, {"pesima", -3.0f}, {"enojad*", -2.5f}, {"enojo", -2.3f},
	{"queja", -1.5f}, {"sinverguenza*", -3.0f}, {"verguenza", -2.2f}, {"mal", -1.0f},
	{"malo", -1.5f}, {"mala", -1.5f}, {"peor", -2.5f}, {"cansad*", -1.2f}, {"fastidi*", -2.0f},
	{"estafa", -2.5f}, {"furios*", -3.0f}, {"triste", -1.8f}, {"dificil", -0.8f},
	{"falta", -0.8f}, {"error", -1.0f}, {"pesados", -1.8f}, {"pesado", -1.8f}, {"absurdo", -2.0f},
	/* emoji */
	{"emo_angry", -2.8f}, {"emo_sad", -1.8f}, {"emo_eyeroll", -1.5f}, {"emo_no", -1.2f},
	{"emo_ok", 1.5f}, {"emo_smile", 1.8f}, {"emo_heart", 2.0f},
	/* positive */
	{"thanks", 1.5f}, {"thank", 1.5f}, {"gracias", 1.5f}, {"great", 2.0f}, {"good", 1.5f},
	{"love", 2.5f}, {"wonderful", 2.5f}, {"appreciate", 2.0f}, {"helpful", 2.0f},
	{"happy", 2.0f}, {"perfect", 2.0f}, {"excellent", 2.5f}, {"nice", 1.5f}, {"awesome", 2.5f},
	{"fine", 0.8f}, {"ok", 0.5f}, {"okay", 0.5f}, {"fantastic", 2.5f}, {"amazing", 2.5f},
	{"bien", 1.0f}, {"bueno", 1.2f}, {"buena", 1.2f}, {"amable", 2.0f}, {"perfecto", 2.0f},
	{"excelente", 2.5f}, {"genial", 2.2f}, {"agradezco", 2.0f}, {"feliz", 2.0f},
	{"respeto", 1.0f}, {"kind", 1.8f}, {"sure", 0.5f}, {"yes", 0.6f}, {"si", 0.4f},
};

#define N_LEXICON ((int) (sizeof(lexicon) / sizeof(lexicon[0])))

static const char *const intensifiers[] = {
	"very", "so", "really", "extremely", "totally", "absolutely", "super", "too", "completely",
	"muy", "tan", "demasiado", "bien", "sumamente", "totalmente", "re", NULL
};

static float
lexicon_value(const char *t)
{
	int			k;

	for (k = 0; k < N_LEXICON; k++)
	{
		const char *w = lexicon[k].word;
		size_t		wl = strlen(w);

		/* typos only for long words: "sentiment" must not drift */
		if (w[wl - 1] == '*' || wl < 6)
		{
			char		buf[REPLY_TOKEN_LEN + 1];

			if (w[wl - 1] != '*')
			{
				buf[0] = '=';
				memcpy(buf + 1, w, wl + 1);
				if (word_match(t, buf, wl + 1))
					return lexicon[k].value;
			}
			else if (word_match(t, w, wl))
				return lexicon[k].value;
		}
		else if (word_match(t, w, wl))
			return lexicon[k].value;
	}
	return 0.0f;
}

static int
is_intensifier(const char *t)
{
	int			k;

	for (k = 0; intensifiers[k]; k++)
		if (strcmp(t, intensifiers[k]) == 0)
			return 1;
	return 0;
}

/* Sarcasm: a positive word together with a cue that the praise is ironic */
static int
sarcasm_cue(const Tok *tk)
{
	static const Rule cues[] = {
		{RI_UPSET, 0, R_NOGAP, "another|otro|otra"},
		{RI_UPSET, 0, R_NOGAP, "yeah|yea right"},
		{RI_UPSET, 0, R_NOGAP, "oh great|wonderful|good|perfect|fantastic|nice|joy"},
		{RI_UPSET, 0, 0, "just what i needed"},
		{RI_UPSET, 0, 0, "emo_eyeroll"},
		{RI_UPSET, 0, 0, "2nd|3rd|4th|5th|6th|7th|8th|9th|10th|nth|millionth text|message|time|call"},
		{RI_UPSET, 0, 0, "keep texting|calling|messaging|bothering"},
		{RI_UPSET, 0, 0, "losing|lost my paperwork|papers|payment|check"},
		{RI_UPSET, 0, 0, "really|so great|love"},
	};
	int			k;

	for (k = 0; k < (int) (sizeof(cues) / sizeof(cues[0])); k++)
		if (rule_matches(tk, &cues[k]))
			return 1;
	return 0;
}

static double
sentiment(const Tok *tk, int *sarcasm)
{
	double		sum = 0.0;
	int			k,
				positives = 0,
				all_caps = tk->n_upper >= 4 && tk->n_lower == 0;
	float		vals[REPLY_MAX_TOKENS];

	for (k = 0; k < tk->n; k++)
	{
		float		v = is_boundary(tk->t[k]) ? 0.0f : lexicon_value(tk->t[k]);
		int			j;

		if (v != 0.0f)
		{
			float		sign = v > 0 ? 1.0f : -1.0f;

			for (j = k - 1; j >= 0 && j >= k - 2 && !is_boundary(tk->t[j]); j--)
				if (is_intensifier(tk->t[j]))
					v += sign * 0.293f;
			if (tk->caps[k] && (!all_caps || v < 0))
				v += sign * 0.733f;
			if (negated_at(tk, k))
				v *= -0.74f;
		}
		vals[k] = v;
		if (v > 0)
			positives++;
	}
	*sarcasm = positives > 0 && sarcasm_cue(tk);
	for (k = 0; k < tk->n; k++)
	{
		float		v = vals[k];

		if (*sarcasm && v > 0)
			v = -0.9f * v;
		sum += v;
	}
	if (all_caps && sum <= 0)
		sum -= 0.8;				/* shouting */
	if (sum != 0.0)
	{
		int			ex = tk->n_exclaim > 4 ? 4 : tk->n_exclaim;

		sum += (sum > 0 ? 1 : -1) * 0.292 * ex;
	}
	return sum / sqrt(sum * sum + 15.0);
}

/* ------------------------------------------------------------------ */
/* Decision                                                            */
/* ------------------------------------------------------------------ */

static const char *const intent_names[RI_N_INTENTS] = {
	"unknown", "pay", "plan", "accept", "stop", "already_paid", "insurance",
	"hardship", "dispute", "upset", "question"
};

/* Ties go to the intent whose effect protects the patient most */
static const ReplyIntent priority[] = {
	RI_STOP, RI_DISPUTE, RI_ALREADY_PAID, RI_INSURANCE, RI_HARDSHIP, RI_UPSET,
	RI_PLAN, RI_ACCEPT, RI_PAY, RI_QUESTION
};

const char *
reply_intent_name(ReplyIntent intent)
{
	if ((int) intent < 0 || intent >= RI_N_INTENTS)
		return "unknown";
	return intent_names[intent];
}

ReplyIntent
reply_intent_from_name(const char *name)
{
	int			k;

	for (k = 0; k < RI_N_INTENTS; k++)
		if (strcmp(name, intent_names[k]) == 0)
			return (ReplyIntent) k;
	return (ReplyIntent) -1;
}

void
reply_classify(const char *text, size_t len, ReplyClass *out)
{
	Tok			tk;
	const char *best_rule[RI_N_INTENTS];
	float		best_weight[RI_N_INTENTS];
	double		top = 0.0;
	int			k,
				words = 0;

	memset(out, 0, sizeof(*out));
	memset(best_rule, 0, sizeof(best_rule));
	memset(best_weight, 0, sizeof(best_weight));
	if (text == NULL)
		len = 0;
	tokenize(text ? text : "", len, &tk);

	for (k = 0; k < N_RULES; k++)
	{
		const Rule *r = &rules[k];

		if (!rule_matches(&tk, r))
			continue;
		out->scores[r->intent] += r->weight;
		if (r->weight > best_weight[r->intent])
		{
			best_weight[r->intent] = r->weight;
			best_rule[r->intent] = r->pat;
		}
	}
	out->sentiment = sentiment(&tk, &out->sarcasm);
	if (out->sarcasm)
	{
		out->scores[RI_UPSET] += 2.5;
		if (best_rule[RI_UPSET] == NULL)
			best_rule[RI_UPSET] = "(sarcasm)";
	}

	out->intent = RI_UNKNOWN;
	if (out->scores[RI_STOP] > 0)
	{
		out->intent = RI_STOP;
		out->stop_like = 1;
	}
	else
	{
		for (k = 0; k < (int) (sizeof(priority) / sizeof(priority[0])); k++)
		{
			ReplyIntent i = priority[k];

			if (out->scores[i] >= 2.0 && out->scores[i] > top)
			{
				top = out->scores[i];
				out->intent = i;
			}
		}
		/* strongly negative with nothing more specific: a person should look */
		if ((out->intent == RI_UNKNOWN || out->intent == RI_ACCEPT) &&
			out->sentiment <= -0.5)
			out->intent = RI_UPSET;
	}
	if (out->intent == RI_UPSET && best_rule[RI_UPSET] == NULL)
		best_rule[RI_UPSET] = "(sentiment)";
	if (best_rule[out->intent])
	{
		strncpy(out->rule, best_rule[out->intent], sizeof(out->rule) - 1);
		out->rule[sizeof(out->rule) - 1] = '\0';
	}
	for (k = 0; k < tk.n; k++)
	{
		memcpy(out->tokens[k], tk.t[k], REPLY_TOKEN_LEN);
		if (!is_boundary(tk.t[k]))
			words++;
	}
	out->n_tokens = tk.n;
	(void) words;
}
