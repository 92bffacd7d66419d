/*
 * providers/stripe.c: Stripe PaymentIntents for `charge` rows: an
 * off-session confirm of the saved card (customer + payment_method from
 * collect.payment_method, overridable in outbox.payload), amount in cents
 * from payload.amount_cents or payload.amount (dollars, exact), the
 * outbox idempotency key as Stripe's Idempotency-Key. Reads the intent id
 * and status, or the decline code. No SPI; the secret key goes only into
 * the Authorization header.
 */
#include "worker.h"

void
stripe_build(Delivery *d)
{
	OutboxMessage *m = d->msg;
	StringInfoData form;
	int64		cents;
	char	   *amount;
	char	   *currency;
	char	   *customer;
	char	   *method;
	char	   *description;

	if (m->secret == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "stripe: provider secret is not set");
		return;
	}
	amount = json_lookup(m->payload, "amount_cents", NULL);
	if (amount)
	{
		char	   *end;

		cents = strtoll(amount, &end, 10);
		if (*end != '\0')
			cents = -1;
	}
	else if (!cents_from_text(json_lookup(m->payload, "amount", NULL), &cents))
		cents = -1;
	if (cents <= 0)
	{
		delivery_fail(d, DELIVERY_FAILED, "stripe: payload has no positive amount (amount_cents or amount)");
		return;
	}
	currency = json_lookup(m->payload, "currency", NULL);
	customer = json_lookup(m->payload, "customer", NULL);
	method = json_lookup(m->payload, "payment_method", NULL);
	if (customer == NULL)
		customer = m->pm_customer;
	if (method == NULL)
		method = m->pm_method;
	if (customer == NULL || method == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "stripe: no card on file (collect.payment_method) for this patient");
		return;
	}
	description = json_lookup(m->payload, "description", NULL);

	initStringInfo(&form);
	form_add(&form, "amount", psprintf(INT64_FORMAT, cents));
	form_add(&form, "currency", currency ? currency : "usd");
	form_add(&form, "customer", customer);
	form_add(&form, "payment_method", method);
	form_add(&form, "confirm", "true");
	form_add(&form, "off_session", "true");
	if (description)
		form_add(&form, "description", description);
	form_add(&form, "metadata[message_id]", psprintf(INT64_FORMAT, m->message_id));
	form_add(&form, "metadata[practice_id]", m->practice_id);

	request_post(d, "/v1/payment_intents", "application/x-www-form-urlencoded", form.data, m->secret);
}

/*
 * 200 with status succeeded/processing: sent. 200 requires_action or
 * requires_payment_method, or 402 card_error: declined (recorded, not
 * retried). Otherwise the common rules (429/5xx retried).
 */
void
stripe_parse(Delivery *d)
{
	long		st = d->req.status;
	const char *body = d->req.response.data;

	if (st == 200 || st == 201)
	{
		char	   *status = json_lookup(body, "status", NULL);

		d->provider_ref = json_lookup(body, "id", NULL);
		if (status && (strcmp(status, "succeeded") == 0 || strcmp(status, "processing") == 0))
			d->result = DELIVERY_SENT;
		else
			delivery_fail(d, DELIVERY_DECLINED, "stripe: payment intent %s", status ? status : "without status");
		return;
	}
	if (st == 402 || (st == 400 && json_lookup(body, "error", "decline_code")))
	{
		char	   *code = json_lookup(body, "error", "decline_code");

		if (code == NULL)
			code = json_lookup(body, "error", "code");
		d->provider_ref = json_lookup(body, "error", "payment_intent");
		delivery_fail(d, DELIVERY_DECLINED, "%s", code ? code : "card_declined");
		return;
	}
	delivery_classify_http(d, "stripe");
}
