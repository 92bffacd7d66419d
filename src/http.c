/*
 * http.c: the worker's libcurl multi loop. Sends a batch of prepared
 * requests concurrently (at most collect.worker_concurrency in flight),
 * reusing connections across batches, honouring a per-provider rate limit,
 * and fills each request's answer (status, body, Retry-After, error text).
 * Every curl call goes through CURL_CHECK/CURLM_CHECK. Curl handles live
 * in this process's memory only, never in shared memory. No SPI, no
 * transaction: the caller holds none while http_run() runs. Never logs a
 * request's headers or body (they carry credentials).
 */
#include "worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "portability/instr_time.h"

#define CURL_CHECK(call) \
	do { \
		CURLcode	rc_ = (call); \
		if (rc_ != CURLE_OK) \
			ereport(ERROR, \
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), \
					 errmsg("collect worker: %s failed: %s", #call, curl_easy_strerror(rc_)))); \
	} while (0)

#define CURLM_CHECK(call) \
	do { \
		CURLMcode	rc_ = (call); \
		if (rc_ != CURLM_OK) \
			ereport(ERROR, \
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), \
					 errmsg("collect worker: %s failed: %s", #call, curl_multi_strerror(rc_)))); \
	} while (0)

/* answers beyond this are cut (we only read ids and error codes) */
#define MAX_RESPONSE_BYTES (64 * 1024)
#define MAX_BUCKETS 256
#define MAX_POOL 1024

static CURLM *multi = NULL;
static CURL *pool[MAX_POOL];
static int	pool_len = 0;

/* token buckets, one per provider (practice/channel) */
typedef struct RateBucket
{
	char		key[160];
	double		tokens;
	instr_time	last;
} RateBucket;

static RateBucket buckets[MAX_BUCKETS];
static int	n_buckets = 0;

static void
http_setup(void)
{
	if (multi)
		return;
	CURL_CHECK(curl_global_init(CURL_GLOBAL_ALL));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("collect worker: curl_multi_init failed")));
}

void
http_shutdown(void)
{
	for (int i = 0; i < pool_len; i++)
		curl_easy_cleanup(pool[i]);
	pool_len = 0;
	if (multi)
		curl_multi_cleanup(multi);
	multi = NULL;
}

void
http_prepare(HttpRequest *req)
{
	memset(req, 0, sizeof(*req));
	initStringInfo(&req->response);
	req->retry_after = -1;
}

/*
 * Link-local and cloud metadata addresses are never contacted, whatever a
 * provider row or a webhook URL says (SSRF). Checked on the connected
 * address, so a DNS name that resolves there is refused too.
 */
bool
http_address_blocked(const char *ip)
{
	unsigned char a[16];

	if (ip == NULL || *ip == '\0')
		return false;
	if (inet_pton(AF_INET, ip, a) == 1)
	{
		if (a[0] == 169 && a[1] == 254)
			return true;		/* link-local, incl. 169.254.169.254 */
		if (a[0] == 100 && a[1] == 100 && a[2] == 100 && a[3] == 200)
			return true;		/* Alibaba metadata */
		if (a[0] == 0)
			return true;
		return false;
	}
	if (inet_pton(AF_INET6, ip, a) == 1)
	{
		static const unsigned char ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x54};

		if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
			return true;		/* fe80::/10 */
		if (memcmp(a, ec2, 16) == 0)
			return true;		/* fd00:ec2::254 */
		/* IPv4-mapped ::ffff:169.254.x.x */
		if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 && a[12] == 169 && a[13] == 254)
			return true;
	}
	return false;
}

/* refuse link-local and metadata addresses before connecting */
static curl_socket_t
opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	HttpRequest *req = (HttpRequest *) clientp;
	char		ip[INET6_ADDRSTRLEN] = "";

	if (address->family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *) &address->addr)->sin_addr, ip, sizeof(ip));
	else if (address->family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &address->addr)->sin6_addr, ip, sizeof(ip));
	if (http_address_blocked(ip))
	{
		req->blocked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	HttpRequest *req = (HttpRequest *) userp;
	size_t		n = size * nmemb;
	size_t		room = MAX_RESPONSE_BYTES - req->response.len;

	if (req->response.len < MAX_RESPONSE_BYTES)
		appendBinaryStringInfo(&req->response, data, Min(n, room));
	return n;
}

/* Retry-After (seconds or an HTTP date) and SendGrid's X-Message-Id */
static size_t
header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	HttpRequest *req = (HttpRequest *) userp;
	size_t		n = size * nmemb;
	char		line[256];
	size_t		len = Min(n, sizeof(line) - 1);
	char	   *v;

	memcpy(line, data, len);
	line[len] = '\0';
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		line[--len] = '\0';
	v = strchr(line, ':');
	if (v == NULL)
		return n;
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (pg_strcasecmp(line, "Retry-After") == 0)
	{
		char	   *end;
		long		secs = strtol(v, &end, 10);

		if (end != v && *end == '\0')
			req->retry_after = (int) Max(0, Min(secs, 86400));
		else
		{
			time_t		t = curl_getdate(v, NULL);

			if (t > 0)
				req->retry_after = (int) Max(0, Min(t - time(NULL), 86400));
		}
	}
	else if (pg_strcasecmp(line, "X-Message-Id") == 0)
		strlcpy(req->message_id_header, v, sizeof(req->message_id_header));
	return n;
}

static CURL *
handle_get(void)
{
	CURL	   *h;

	if (pool_len > 0)
	{
		h = pool[--pool_len];
		curl_easy_reset(h);
		return h;
	}
	h = curl_easy_init();
	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("collect worker: curl_easy_init failed")));
	return h;
}

static void
handle_put(CURL *h)
{
	if (pool_len < MAX_POOL)
		pool[pool_len++] = h;
	else
		curl_easy_cleanup(h);
}

static void
handle_start(HttpRequest *req)
{
	CURL	   *h = handle_get();

	CURL_CHECK(curl_easy_setopt(h, CURLOPT_URL, req->url));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_PRIVATE, req));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) worker_timeout_ms));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) worker_connect_timeout_ms));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, req->error));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_WRITEDATA, req));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_HEADERDATA, req));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, req));
	CURL_CHECK(curl_easy_setopt(h, CURLOPT_USERAGENT, "collect-worker/0.1"));
	if (req->headers)
		CURL_CHECK(curl_easy_setopt(h, CURLOPT_HTTPHEADER, req->headers));
	if (req->userpwd)
	{
		CURL_CHECK(curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC));
		CURL_CHECK(curl_easy_setopt(h, CURLOPT_USERPWD, req->userpwd));
	}
	if (strcmp(req->method, "POST") == 0)
	{
		CURL_CHECK(curl_easy_setopt(h, CURLOPT_POST, 1L));
		CURL_CHECK(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) (req->body ? strlen(req->body) : 0)));
		CURL_CHECK(curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : ""));
	}
	else
		CURL_CHECK(curl_easy_setopt(h, CURLOPT_HTTPGET, 1L));
	CURLM_CHECK(curl_multi_add_handle(multi, h));
	req->started = true;
}

/* Take one token from the request's bucket; false when it must wait */
static bool
rate_take(HttpRequest *req)
{
	RateBucket *b = NULL;
	instr_time	now;
	double		elapsed;

	if (req->rate_per_second <= 0 || req->rate_key == NULL)
		return true;
	for (int i = 0; i < n_buckets; i++)
		if (strcmp(buckets[i].key, req->rate_key) == 0)
		{
			b = &buckets[i];
			break;
		}
	INSTR_TIME_SET_CURRENT(now);
	if (b == NULL)
	{
		b = &buckets[n_buckets < MAX_BUCKETS ? n_buckets++ : MAX_BUCKETS - 1];
		strlcpy(b->key, req->rate_key, sizeof(b->key));
		b->tokens = Max(req->rate_per_second, 1.0);	/* a full second's burst */
		b->last = now;
	}
	elapsed = INSTR_TIME_GET_DOUBLE(now) - INSTR_TIME_GET_DOUBLE(b->last);
	b->last = now;
	b->tokens = Min(Max(req->rate_per_second, 1.0), b->tokens + elapsed * req->rate_per_second);
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/*
 * Send every request, at most worker_concurrency at a time. Requests that
 * a rate limit keeps from starting within a second of the batch going idle
 * are marked deferred (the caller puts them back in the queue unspent).
 */
void
http_run(HttpRequest **reqs, int n)
{
	int			next = 0;		/* first request not yet considered */
	int			in_flight = 0;
	int			done = 0;
	bool		any_blocked;
	instr_time	idle_since;

	http_setup();
	INSTR_TIME_SET_ZERO(idle_since);
	CURLM_CHECK(curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) worker_concurrency));
	CURLM_CHECK(curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) worker_concurrency * 2));

	while (done < n)
	{
		int			running;
		int			msgs;
		int			finished;
		CURLMsg    *m;

		/* start what the concurrency bound and the rate limits allow */
		any_blocked = false;
		for (int i = next; i < n && in_flight < worker_concurrency; i++)
		{
			HttpRequest *r = reqs[i];

			if (r->started || r->done)
			{
				if (i == next)
					next++;
				continue;
			}
			if (!rate_take(r))
			{
				any_blocked = true;
				continue;
			}
			handle_start(r);
			in_flight++;
			if (i == next)
				next++;
		}
		worker_status_in_flight(in_flight);

		if (in_flight == 0)
		{
			instr_time	now;

			if (!any_blocked)
				break;
			INSTR_TIME_SET_CURRENT(now);
			if (INSTR_TIME_IS_ZERO(idle_since))
				idle_since = now;
			else if (INSTR_TIME_GET_DOUBLE(now) - INSTR_TIME_GET_DOUBLE(idle_since) > 1.0 ||
					 worker_got_sigterm)
			{
				for (int i = 0; i < n; i++)
					if (!reqs[i]->started && !reqs[i]->done)
					{
						reqs[i]->deferred = true;
						reqs[i]->done = true;
						done++;
					}
				break;
			}
			pg_usleep(5000);
			continue;
		}
		INSTR_TIME_SET_ZERO(idle_since);

		finished = 0;
		CURLM_CHECK(curl_multi_perform(multi, &running));
		while ((m = curl_multi_info_read(multi, &msgs)) != NULL)
		{
			HttpRequest *r;
			CURL	   *h = m->easy_handle;

			if (m->msg != CURLMSG_DONE)
				continue;
			CURL_CHECK(curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **) &r));
			r->curl_code = m->data.result;
			CURL_CHECK(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status));
			if (r->curl_code != CURLE_OK)
			{
				r->status = 0;
				if (r->blocked)
					strlcpy(r->error, "refused: link-local or cloud metadata address", sizeof(r->error));
				else if (r->error[0] == '\0')
					strlcpy(r->error, curl_easy_strerror(r->curl_code), sizeof(r->error));
			}
			r->done = true;
			done++;
			finished++;
			in_flight--;
			CURLM_CHECK(curl_multi_remove_handle(multi, h));
			handle_put(h);
		}
		if (worker_got_sigterm)
		{
			/* give up on what is in flight; the outcome is unknown (retried) */
			for (int i = 0; i < n; i++)
				if (reqs[i]->started && !reqs[i]->done)
				{
					strlcpy(reqs[i]->error, "worker shutting down", sizeof(reqs[i]->error));
					reqs[i]->curl_code = CURLE_ABORTED_BY_CALLBACK;
					reqs[i]->done = true;
					done++;
				}
			/* handles are dropped with the multi handle at exit */
			break;
		}
		/* wait only when nothing finished: freed slots are refilled first */
		if (done < n && in_flight > 0 && (finished == 0 || next >= n))
			CURLM_CHECK(curl_multi_poll(multi, NULL, 0, 100, NULL));
	}
	/* never sent (shutdown): deferred back to the queue */
	for (int i = 0; i < n; i++)
		if (!reqs[i]->done)
		{
			reqs[i]->deferred = true;
			reqs[i]->done = true;
		}
	worker_status_in_flight(0);
}
