/*
 * deliver.c: one batch's trip to the providers. Routes each claimed row to
 * its provider's builder (by collect.provider.kind and the row's channel),
 * sends all of them through http_run(), and has the provider read each
 * answer into a Delivery. No SPI and no transaction: called between the
 * claim and the finish transactions.
 */
#include "worker.h"

#include "utils/resowner.h"

/* HMAC contexts need a resource owner; no transaction is open here */
static ResourceOwner deliver_owner = NULL;

typedef struct ProviderOps
{
	const char *kind;
	void		(*build) (Delivery *d);
	void		(*parse) (Delivery *d);
	const char *channels[6];	/* the outbox channels this kind serves */
} ProviderOps;

static const ProviderOps providers[] = {
	{"twilio", twilio_build, twilio_parse, {"sms", "voice", NULL}},
	{"sendgrid", sendgrid_build, sendgrid_parse, {"email", NULL}},
	{"stripe", stripe_build, stripe_parse, {"charge", NULL}},
	{"webhook", webhook_build, webhook_parse, {"letter", "webhook", "sms", "email", "voice", NULL}},
};

static const ProviderOps *
provider_for(OutboxMessage *m)
{
	if (m->kind == NULL)
		return NULL;
	for (int i = 0; i < lengthof(providers); i++)
		if (strcmp(providers[i].kind, m->kind) == 0)
		{
			for (int c = 0; providers[i].channels[c]; c++)
				if (strcmp(providers[i].channels[c], m->channel) == 0)
					return &providers[i];
			return NULL;
		}
	return NULL;
}

Delivery *
deliver_batch(OutboxMessage *msgs, int n)
{
	Delivery   *ds = palloc0(sizeof(Delivery) * Max(n, 1));
	HttpRequest **reqs = palloc(sizeof(HttpRequest *) * Max(n, 1));
	int			n_req = 0;
	ResourceOwner save_owner = CurrentResourceOwner;

	if (deliver_owner == NULL)
		deliver_owner = ResourceOwnerCreate(NULL, "collect worker delivery");
	if (CurrentResourceOwner == NULL)
		CurrentResourceOwner = deliver_owner;
	for (int i = 0; i < n; i++)
	{
		Delivery   *d = &ds[i];
		const ProviderOps *ops;

		d->msg = &msgs[i];
		d->retry_after = -1;
		http_prepare(&d->req);
		ops = provider_for(d->msg);
		if (ops == NULL)
		{
			if (d->msg->kind == NULL)
				delivery_fail(d, DELIVERY_FAILED, "no provider configured for channel %s of practice %s",
							  d->msg->channel, d->msg->practice_id);
			else
				delivery_fail(d, DELIVERY_FAILED, "provider kind %s cannot send channel %s",
							  d->msg->kind, d->msg->channel);
			continue;
		}
		ops->build(d);
		if (!d->has_request)
			continue;
		d->req.rate_key = psprintf("%s/%s", d->msg->practice_id, d->msg->channel);
		{
			char	   *rate = json_lookup(d->msg->settings, "rate_per_second", NULL);

			/* the workers share the provider's rate evenly */
			d->req.rate_per_second = (rate ? atoi(rate) : worker_rate_limit) / (double) worker_count;
		}
		reqs[n_req++] = &d->req;
	}
	CurrentResourceOwner = save_owner;

	http_run(reqs, n_req);

	for (int i = 0; i < n; i++)
	{
		Delivery   *d = &ds[i];

		if (!d->has_request)
			continue;
		curl_slist_free_all(d->req.headers);
		d->req.headers = NULL;
		if (d->req.userpwd)
			explicit_bzero(d->req.userpwd, strlen(d->req.userpwd));
		if (d->req.deferred)
		{
			d->result = DELIVERY_DEFERRED;
			continue;
		}
		provider_for(d->msg)->parse(d);
	}
	/* the secrets are not needed past this point */
	for (int i = 0; i < n; i++)
		if (msgs[i].secret)
			explicit_bzero(msgs[i].secret, strlen(msgs[i].secret));
	return ds;
}
