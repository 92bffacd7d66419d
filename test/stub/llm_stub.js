// test/stub/llm_stub.js: a local OpenAI-compatible chat completions server
// for test/t/replies_llm.sh. Listens on 127.0.0.1 (port written to argv[2]),
// logs every request (path, authorization, body) as a JSON line to argv[3],
// and answers by the reply text: "cousin" -> "Plan.", "elephant" ->
// "banana" (no label), "flaky" -> HTTP 500 the first time, then "question".
// A wrong key gets 401.
const http = require('http');
const fs = require('fs');
const [portFile, logFile] = process.argv.slice(2);
const seen = new Set();
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    fs.appendFileSync(logFile, JSON.stringify({ path: req.url, auth: req.headers.authorization, body }) + '\n');
    const answer = (status, content) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(status === 200
        ? { id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }
        : { error: { message: 'stub error ' + status } }));
    };
    if (req.headers.authorization !== 'Bearer KEY-llm-test') return answer(401);
    let text = '';
    try { text = JSON.parse(body).messages.filter((m) => m.role === 'user').map((m) => m.content).join(' '); } catch (e) { return answer(400); }
    if (text.includes('flaky') && !seen.has(text)) { seen.add(text); return answer(500); }
    if (text.includes('cousin')) return answer(200, 'Plan.');
    if (text.includes('elephant')) return answer(200, 'banana');
    if (text.includes('flaky')) return answer(200, 'question');
    return answer(200, 'unknown');
  });
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
