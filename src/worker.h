/*
 * worker.h: the outbox worker's internal contract, shared by worker.c
 * (lifecycle), outbox.c (claim/finish SQL), http.c (the libcurl multi loop)
 * and src/providers/ (one provider's request and answer each). No logic.
 */
#ifndef COLLECT_WORKER_H
#define COLLECT_WORKER_H

#include "collect.h"

#include <curl/curl.h>

#include "lib/stringinfo.h"

/* GUCs (worker.c) */
extern char *collect_database;
extern int	worker_batch_size;
extern int	worker_concurrency;
extern int	worker_timeout_ms;
extern int	worker_connect_timeout_ms;
extern int	worker_max_attempts;
extern int	worker_lease_seconds;
extern int	worker_idle_seconds;
extern int	worker_retry_base_seconds;
extern int	worker_retry_max_seconds;
extern int	worker_poll_seconds;
extern int	worker_rate_limit;
extern int	worker_count;

/* upper bound of collect.worker_count */
#define MAX_OUTBOX_WORKERS 16
/* this worker's number, 0 .. worker_count - 1 (worker.c) */
extern int	worker_slot;

extern void WorkerInit(void);
extern volatile sig_atomic_t worker_got_sigterm;

/* One claimed outbox row with its provider settings (outbox.c fills it) */
typedef struct OutboxMessage
{
	char	   *practice_id;
	int64		message_id;
	char	   *patient_id;
	char	   *channel;
	char	   *to_address;
	char	   *subject;
	char	   *body;
	char	   *payload;		/* jsonb as text */
	char	   *idempotency_key;
	int			attempts;		/* including this one */
	/* provider (NULL kind: none configured) */
	char	   *kind;
	char	   *base_url;
	char	   *account;
	char	   *secret;
	char	   *sender;
	char	   *settings;		/* jsonb as text */
	/* card on file, charge rows only */
	char	   *pm_customer;
	char	   *pm_method;
} OutboxMessage;

/* What one HTTP exchange needs and what came back (http.c) */
typedef struct HttpRequest
{
	const char *method;			/* "POST" or "GET" */
	char	   *url;
	struct curl_slist *headers;
	char	   *body;			/* NULL for GET */
	char	   *userpwd;		/* basic auth "user:password", or NULL */
	char	   *rate_key;		/* rate-limit bucket (practice/channel), or NULL */
	double		rate_per_second;	/* this worker's share; 0: no limit */
	bool		started;
	bool		done;
	bool		deferred;		/* rate limit: not sent in this batch */
	bool		blocked;		/* address refused (link-local/metadata) */
	/* answer */
	long		status;			/* HTTP status, 0 when no answer */
	CURLcode	curl_code;
	StringInfoData response;
	int			retry_after;	/* seconds from Retry-After, -1 none */
	char		message_id_header[128]; /* SendGrid X-Message-Id */
	char		error[CURL_ERROR_SIZE];
} HttpRequest;

extern void http_prepare(HttpRequest *req);
extern void http_run(HttpRequest **reqs, int n);
extern void http_shutdown(void);
extern bool http_address_blocked(const char *ip);

/* The outcome of one delivery attempt (providers fill it) */
typedef enum DeliveryResult
{
	DELIVERY_SENT,				/* the provider took it */
	DELIVERY_RETRY,				/* transient: try again later */
	DELIVERY_FAILED,			/* permanent: the provider refused it */
	DELIVERY_DECLINED,			/* charge declined: failed, recorded */
	DELIVERY_DEFERRED			/* rate limit: back to the queue, no attempt used */
} DeliveryResult;

typedef struct Delivery
{
	OutboxMessage *msg;
	HttpRequest req;
	bool		has_request;	/* false: failed before any HTTP */
	DeliveryResult result;
	char	   *provider_ref;
	char	   *error;			/* never contains a secret */
	int			retry_after;	/* seconds, -1: use backoff */
} Delivery;

/* providers/common.c */
extern char *json_lookup(const char *json, const char *key1, const char *key2);
extern char **json_string_array(const char *json, const char *key, int *n);
extern List *json_object_rows(const char *json, const char *key, const char **fields, int n_fields);
extern void form_add(StringInfo buf, const char *name, const char *value);
extern void json_add_string(StringInfo buf, const char *value);
extern void request_post(Delivery *d, const char *path, const char *content_type, char *body,
						 const char *bearer);
extern char *url_host(const char *url);
extern void delivery_fail(Delivery *d, DeliveryResult r, const char *fmt,...) pg_attribute_printf(3, 4);
extern void delivery_classify_http(Delivery *d, const char *what);
extern bool cents_from_text(const char *s, int64 *out);

/* providers/{twilio,sendgrid,stripe,webhook}.c */
extern void twilio_build(Delivery *d);
extern void twilio_parse(Delivery *d);
extern void sendgrid_build(Delivery *d);
extern void sendgrid_parse(Delivery *d);
extern void stripe_build(Delivery *d);
extern void stripe_parse(Delivery *d);
extern void llm_build(Delivery *d);
extern void llm_parse(Delivery *d);
extern const char *llm_label(const char *text);
extern void webhook_build(Delivery *d);
extern void webhook_parse(Delivery *d);
extern char *webhook_signature(const char *secret, const char *timestamp, const char *body);

/* Twilio status and inbound polling (providers/twilio.c) */
extern char *twilio_message_url(const char *base_url, const char *account, const char *sid);
extern char *twilio_inbound_url(const char *base_url, const char *account, const char *to,
								const char *since_date);

/* deliver.c */
extern Delivery *deliver_batch(OutboxMessage *msgs, int n);

/* outbox.c */
extern void outbox_reset_plans(void);
extern int	outbox_reclaim(bool at_start);
extern int	outbox_claim(int limit, OutboxMessage **out);
extern int	outbox_quarantine_next(const char *error);
extern void outbox_finish(Delivery *ds, int n);
extern double outbox_next_due_seconds(void);
extern void outbox_poll_status(void);
extern void llm_classify_pending(void);	/* llm_poll.c */
extern const char *outbox_extension_unready(void);
extern bool outbox_has_receive_sms;

/* transactions of the worker (worker.c): allocations stay in the caller's context */
extern void worker_tx_begin(void);
extern void worker_tx_commit(void);

/* shared status (worker.c) */
extern void worker_status_add(int sent, int retried, int failed, int dead, int cancelled);
extern void worker_status_in_flight(int n);

#endif							/* COLLECT_WORKER_H */
