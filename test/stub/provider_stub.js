// provider_stub.js: a misbehaving provider for the worker's integration
// test, on 127.0.0.1. The first path segment picks the behaviour:
//   /ok/...    answers at once           /e500/...  always 500
//   /e400/...  400 with a Twilio error    /r429/...  429 Retry-After: 2 once per key, then ok
//   /slow/...  3 s late once per key      /drop/...  drops the connection once per key
//   /stripe/v1/payment_intents  checks the form body against the Stripe spec
//              (paths./v1/payment_intents.post.requestBody) with ajv; customer
//              cus_decline gets a 402 card_declined
//   /hook/...  checks X-Collect-Signature (HMAC-SHA256 of "ts.body", secret
//              from HOOK_SECRET)
//   /poll/...  Twilio GET Message (status delivered) and GET Messages
//              (one inbound STOP)
// Every request is appended to LOG as one JSON line; GET /_stats sums them.
//   node provider_stub.js PORTFILE LOG STRIPE_SPEC NODE_MODULES
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const [portFile, logFile, stripeSpec, nodeModules] = process.argv.slice(2);
const Ajv = require(nodeModules + '/ajv').default;
const addFormats = require(nodeModules + '/ajv-formats');

const ajv = new Ajv({ strict: false, coerceTypes: true, allErrors: true, validateFormats: false });
addFormats(ajv);
ajv.addSchema(JSON.parse(fs.readFileSync(stripeSpec, 'utf8')), 'stripe');
const validateIntent = ajv.compile({
  $ref: 'stripe#/paths/~1v1~1payment_intents/post/requestBody/content/application~1x-www-form-urlencoded/schema',
});

const seen = new Map();
const stats = { requests: 0, stripe_invalid: 0, hook_bad_signature: 0, by_scenario: {} };
const log = fs.openSync(logFile, 'a');

// a[b][c]=v form fields (deepObject) into nested objects
function parseForm(body) {
  const out = {};
  for (const [k, v] of new URLSearchParams(body)) {
    const parts = k.split(/[\[\]]+/).filter(Boolean);
    let o = out;
    for (let i = 0; i < parts.length - 1; i++) o = o[parts[i]] = o[parts[i]] || {};
    o[parts[parts.length - 1]] = v;
  }
  return out;
}

function json(res, status, obj, headers) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json' }, headers || {}));
  res.end(JSON.stringify(obj));
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    const scenario = url.pathname.split('/')[1];
    if (scenario === '_stats') return json(res, 200, stats);
    const key = req.headers['idempotency-key'] || url.pathname;
    const n = (seen.get(scenario + key) || 0) + 1;
    seen.set(scenario + key, n);
    stats.requests++;
    stats.by_scenario[scenario] = (stats.by_scenario[scenario] || 0) + 1;
    const entry = { t: Date.now(), scenario, method: req.method, path: url.pathname, query: url.search, key, n,
      auth: req.headers.authorization ? req.headers.authorization.split(' ')[0] : null, body };
    const sid = 'SM' + crypto.createHash('md5').update(String(key)).digest('hex');

    switch (scenario) {
      case 'e500': entry.answer = 500; json(res, 500, { code: 20500, message: 'Internal Server Error' }); break;
      case 'e400': entry.answer = 400;
        json(res, 400, { code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 }); break;
      case 'r429':
        if (n === 1) { entry.answer = 429; json(res, 429, { code: 20429, message: 'Too Many Requests' }, { 'Retry-After': '2' }); }
        else { entry.answer = 201; json(res, 201, { sid, status: 'queued' }); }
        break;
      case 'slow':
        entry.answer = n === 1 ? 'slow' : 201;
        setTimeout(() => json(res, 201, { sid, status: 'queued' }), n === 1 ? 3000 : 0); break;
      case 'drop':
        if (n === 1) { entry.answer = 'drop'; req.socket.destroy(); }
        else { entry.answer = 201; json(res, 201, { sid, status: 'queued' }); }
        break;
      case 'stripe': {
        const form = parseForm(body);
        const ok = validateIntent(form);
        if (!ok) { stats.stripe_invalid++; entry.invalid = validateIntent.errors.slice(0, 3); }
        entry.form = form;
        if (!ok) { entry.answer = 400; json(res, 400, { error: { type: 'invalid_request_error', message: 'stub: schema violation' } }); }
        else if (form.customer === 'cus_decline') {
          entry.answer = 402;
          json(res, 402, { error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } });
        } else { entry.answer = 200; json(res, 200, { id: 'pi_' + sid.slice(2, 26), object: 'payment_intent', status: 'succeeded', amount: Number(form.amount) }); }
        break;
      }
      case 'hook': {
        const ts = req.headers['x-collect-timestamp'];
        const want = 'v1=' + crypto.createHmac('sha256', process.env.HOOK_SECRET || '').update(ts + '.' + body).digest('hex');
        const good = req.headers['x-collect-signature'] === want && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
        if (!good) stats.hook_bad_signature++;
        entry.signature_ok = good;
        entry.answer = good ? 200 : 401;
        json(res, good ? 200 : 401, { id: 'wh_' + n });
        break;
      }
      case 'poll':
        if (req.method === 'POST') { entry.answer = 201; json(res, 201, { sid: 'SMpoll0000000000000000000000000001', status: 'queued' }); }
        else if (/\/Messages\/[^/]+\.json$/.test(url.pathname)) {
          entry.answer = 200; json(res, 200, { sid: url.pathname.match(/Messages\/([^/]+)\.json/)[1], status: 'delivered' });
        } else {
          entry.answer = 200;
          json(res, 200, { messages: [
            { sid: 'SMinbound00000000000000000000000001', from: '+15005550077', to: url.searchParams.get('To'),
              body: 'STOP', date_sent: 'Mon, 23 Nov 2026 12:00:00 +0000', direction: 'inbound' },
            { sid: 'SMoutbound0000000000000000000000001', from: url.searchParams.get('To'), to: '+15005550077',
              body: 'hello', date_sent: 'Mon, 23 Nov 2026 11:00:00 +0000', direction: 'outbound-api' }] });
        }
        break;
      default: entry.answer = 201; json(res, 201, { sid, status: 'queued' });
    }
    fs.writeSync(log, JSON.stringify(entry) + '\n');
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
process.on('SIGTERM', () => process.exit(0));
