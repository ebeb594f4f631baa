// An HTTP/2-only mock upstream for the brokered-credentials tests
// (tests/integration/t-broker.sh): plain Node (20 or later), no npm
// dependency; the HTTP/2 counterpart of upstream.py.
//
//   node h2-upstream.mjs --listen ADDR:PORT --cert CERT --key KEY --log FILE
//
// Offers only "h2" (no HTTP/1.1 fallback). Every request is one JSON line in
// FILE, written when its body has ended and before the answer:
//   {"proto", "session", "method", "path", "authority", "headers": [[name,
//    value], ...], "body", "t"}
// session: a number per connection (streams of one connection share it).
// Endpoints: /echo, /echo/..., /bot... (200, JSON {"ok", "session", "body_len"}), /reflect (the
// x-api-key it got in header x-echo and twice in the body), /sse (5 events
// 50 ms apart, each "data: {"i": I, "t": SENT_S}"), /big?n=BYTES (that many
// 'x', written as flow control lets), anything else 404. A request body is
// logged whole ("body") up to 64 KiB, and always as "body_len" and
// "body_sha256".
// Prints "listening" once it is.
import http2 from "node:http2";
import fs from "node:fs";
import { createHash } from "node:crypto";

const arg = (name) => process.argv[process.argv.indexOf(name) + 1];
const [addr, port] = [arg("--listen").slice(0, arg("--listen").lastIndexOf(":")), Number(arg("--listen").split(":").pop())];
const logFile = arg("--log");
let sessions = 0;
const server = http2.createSecureServer({ cert: fs.readFileSync(arg("--cert")), key: fs.readFileSync(arg("--key")), allowHTTP1: false });
server.on("session", (s) => (s.clawboxId = ++sessions));
server.on("stream", (stream, headers) => {
	const chunks = [];
	stream.on("data", (d) => chunks.push(d));
	stream.on("end", () => {
		const body = Buffer.concat(chunks);
		const path = headers[":path"];
		const rec = {
			proto: "h2", session: stream.session.clawboxId, method: headers[":method"], path,
			authority: headers[":authority"],
			headers: Object.entries(headers).filter(([k]) => !k.startsWith(":")).map(([k, v]) => [k, String(v)]),
			body: body.length <= 65536 ? body.toString("latin1") : "", body_len: body.length,
			body_sha256: createHash("sha256").update(body).digest("hex"), t: Date.now() / 1000,
		};
		fs.appendFileSync(logFile, JSON.stringify(rec) + "\n");
		const u = new URL(path, "https://x");
		if (u.pathname === "/echo" || u.pathname.startsWith("/echo/") || u.pathname.startsWith("/bot")) {
			stream.respond({ ":status": 200, "content-type": "application/json" });
			stream.end(JSON.stringify({ ok: true, session: rec.session, body_len: body.length }) + "\n");
		} else if (u.pathname === "/reflect") {
			const v = String(headers["x-api-key"] ?? "");
			stream.respond({ ":status": 200, "content-type": "text/plain", "x-echo": v });
			stream.end(`key=${v}\nagain ${v} end\n`);
		} else if (u.pathname === "/big") {
			const n = Number(u.searchParams.get("n") ?? 1048576);
			stream.respond({ ":status": 200, "content-type": "application/octet-stream", "content-length": n });
			const block = Buffer.alloc(65536, "x");
			let left = n;
			const more = () => {
				while (left > 0) {
					const k = Math.min(left, block.length);
					left -= k;
					if (!stream.write(k === block.length ? block : block.subarray(0, k))) return stream.once("drain", more);
				}
				stream.end();
			};
			more();
		} else if (u.pathname === "/sse") {
			stream.respond({ ":status": 200, "content-type": "text/event-stream" });
			let i = 0;
			const send = () => {
				stream.write(`data: ${JSON.stringify({ i, t: Date.now() / 1000 })}\n\n`);
				if (++i < 5) setTimeout(send, 50);
				else stream.end();
			};
			send();
		} else {
			stream.respond({ ":status": 404 });
			stream.end("not found\n");
		}
	});
	stream.on("error", () => {});
});
server.listen(port, addr, () => console.log("listening"));
