// A mock Telegram Bot API for the OpenClaw tests (tests/integration/t-openclaw.sh):
// plain Node (20 or later), no npm dependency.
//
//   node mock-telegram.mjs --listen ADDR:PORT --log FILE --token TOKEN [--from ID]
//                          [--tls CERT.pem KEY.pem]
//
// Serves POST|GET /bot<TOKEN>/<method> (any other token: 401, as Telegram
// does): getMe, deleteWebhook, setWebhook, getWebhookInfo, setMyCommands,
// deleteMyCommands, getMyCommands, setMyDescription, setMyShortDescription,
// setChatMenuButton, getUpdates (long polling: the first call returns one
// private message "hello bot" from user ID (default 4242), later calls wait
// up to their timeout and return nothing), sendMessage and
// sendChatAction (answered with a message object). Anything else answers
// {ok: true, result: true}. Every request is one JSON line in the log:
// method, the Bot API method, and for sendMessage the chat_id and text.
// --tls serves HTTPS with that certificate (a brokered bot token: the token
// in the path is the real one only if clawbox's proxy put it there).
import fs from "node:fs";
import http from "node:http";
import https from "node:https";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const [host, port] = opt("--listen", "127.0.0.1:8081").split(/:(?=\d+$)/);
const logFile = opt("--log", "/dev/stderr");
const token = opt("--token", "");
const from = Number(opt("--from", "4242"));
const log = (rec) => fs.appendFileSync(logFile, JSON.stringify(rec) + "\n");

const bot = { id: 777000111, is_bot: true, first_name: "clawbox-test", username: "clawbox_test_bot" };
const user = { id: from, is_bot: false, first_name: "Tester", username: "tester" };
let delivered = false;
let msgId = 100;

function reply(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function params(req, body) {
  const url = new URL(req.url, "http://x");
  const p = Object.fromEntries(url.searchParams);
  if (!body.length) return p;
  const type = req.headers["content-type"] ?? "";
  if (type.includes("json")) return { ...p, ...JSON.parse(body.toString("utf8")) };
  if (type.includes("x-www-form-urlencoded"))
    return { ...p, ...Object.fromEntries(new URLSearchParams(body.toString("utf8"))) };
  return p;
}

function update() {
  return {
    update_id: 9001,
    message: {
      message_id: ++msgId,
      from: user,
      chat: { id: from, type: "private", first_name: user.first_name, username: user.username },
      date: Math.floor(Date.now() / 1000),
      text: "hello bot",
    },
  };
}

async function getUpdates(res, p) {
  if (!delivered) {
    delivered = true;
    return reply(res, 200, { ok: true, result: [update()] });
  }
  const wait = Math.min(Number(p.timeout ?? 0), 5) * 1000;
  setTimeout(() => reply(res, 200, { ok: true, result: [] }), wait);
}

const methods = {
  getMe: () => bot,
  sendMessage: (p) => ({
    message_id: ++msgId,
    from: bot,
    chat: { id: Number(p.chat_id), type: "private" },
    date: Math.floor(Date.now() / 1000),
    text: String(p.text ?? ""),
  }),
  getWebhookInfo: () => ({ url: "", has_custom_certificate: false, pending_update_count: 0 }),
  getMyCommands: () => [],
};

const tls = args.indexOf("--tls");
const server = (handler) =>
  tls >= 0
    ? https.createServer({ cert: fs.readFileSync(args[tls + 1]), key: fs.readFileSync(args[tls + 2]) }, handler)
    : http.createServer(handler);

server((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const m = /^\/bot([^/]+)\/([A-Za-z]+)/.exec(new URL(req.url, "http://x").pathname);
      if (!m) {
        log({ method: req.method, path: req.url, status: 404 });
        return reply(res, 404, { ok: false, error_code: 404, description: "Not Found" });
      }
      if (m[1] !== token) {
        log({ method: req.method, api: m[2], status: 401 });
        return reply(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
      }
      let p = {};
      try {
        p = params(req, Buffer.concat(chunks));
      } catch {}
      const rec = { method: req.method, api: m[2] };
      if (m[2] === "sendMessage") Object.assign(rec, { chat_id: p.chat_id, text: p.text });
      log(rec);
      if (m[2] === "getUpdates") return getUpdates(res, p);
      const fn = methods[m[2]];
      reply(res, 200, { ok: true, result: fn ? fn(p) : true });
    });
  })
  .listen(Number(port), host);
