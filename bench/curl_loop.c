/*
 * curl_loop.c: the baseline for bench/drain: a plain libcurl multi loop
 * that POSTs N Twilio-sized form bodies to URL with at most C requests in
 * flight over reused connections, and prints requests per second and
 * the CPU seconds it used. What
 * the worker's HTTP part could reach with no database at all.
 *   curl_loop URL N C
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

static size_t
sink(char *p, size_t s, size_t n, void *u)
{
	return s * n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *url = argv[1];
	long		n = atol(argv[2]);
	int			c = atoi(argv[3]);
	long		started = 0,
				done = 0,
				failed = 0;
	CURLM	   *m;
	double		t0;
	const char *body = "To=%2B15005550006&From=%2B15005550001&Body=Message+12345+from+your+clinic";

	curl_global_init(CURL_GLOBAL_ALL);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long) c);
	t0 = now();
	while (done < n)
	{
		int			running,
					q;
		CURLMsg    *msg;

		while (started < n && started - done < c)
		{
			CURL	   *h = curl_easy_init();
			struct curl_slist *hd;
			char		key[64];

			snprintf(key, sizeof(key), "Idempotency-Key: base-%ld", started);
			hd = curl_slist_append(NULL, key);
			curl_easy_setopt(h, CURLOPT_URL, url);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
			curl_easy_setopt(h, CURLOPT_USERPWD, "AC0123456789abcdef0123456789abcdef:tok");
			curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
			curl_easy_setopt(h, CURLOPT_PRIVATE, hd);
			curl_multi_add_handle(m, h);
			started++;
		}
		long		before = done;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &q)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE)
			{
				struct curl_slist *hd;

				if (msg->data.result != CURLE_OK)
					failed++;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &hd);
				curl_multi_remove_handle(m, msg->easy_handle);
				curl_easy_cleanup(msg->easy_handle);
				curl_slist_free_all(hd);
				done++;
			}
		}
		/* slots freed: refill them before waiting */
		if (done == before)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	{
		struct rusage ru;
		double		cpu;

		getrusage(RUSAGE_SELF, &ru);
		cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		/* done failed seconds rate cpu_seconds */
		printf("%ld %ld %.3f %.1f %.3f\n", done, failed, now() - t0, done / (now() - t0), cpu);
	}
	return failed != 0;
}
