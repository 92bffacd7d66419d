/*
 * reply_eval.c: development tool for the reply classifier, outside the
 * server. Reads label<TAB>language<TAB>text lines on stdin and prints the
 * misclassified ones and the accuracy. "reply_eval dev" keeps odd lines
 * (the tuning split), "reply_eval holdout" even lines, no argument all.
 *   cc -O1 -Isrc -o /tmp/reply_eval test/tools/reply_eval.c src/reply_classify.c -lm
 */
#include <stdio.h>
#include <string.h>
#include "reply_classify.h"

int
main(int argc, char **argv)
{
	char		line[4096];
	int			n = 0, ok = 0, lineno = 0;
	int			want = argc > 1 ? (strcmp(argv[1], "dev") == 0 ? 1 : 0) : -1;
	static ReplyClass rc;

	while (fgets(line, sizeof(line), stdin))
	{
		char	   *label = line, *lang, *text;
		size_t		l;

		lineno++;
		if (want >= 0 && lineno % 2 != want)
			continue;
		lang = strchr(label, '\t');
		if (!lang) continue;
		*lang++ = '\0';
		text = strchr(lang, '\t');
		if (!text) continue;
		*text++ = '\0';
		l = strlen(text);
		while (l && (text[l - 1] == '\n' || text[l - 1] == '\r')) text[--l] = '\0';
		reply_classify(text, l, &rc);
		n++;
		if (strcmp(reply_intent_name(rc.intent), label) == 0)
			ok++;
		else
		{
			char norm[1024];
			reply_normalize(text, l, norm, sizeof(norm));
			printf("%-12s got %-12s s=%+.2f rule=%-28s | %s  [%s]\n", label,
				   reply_intent_name(rc.intent), rc.sentiment, rc.rule, text, norm);
		}
	}
	printf("accuracy %d/%d = %.3f\n", ok, n, n ? (double) ok / n : 0);
	return 0;
}
