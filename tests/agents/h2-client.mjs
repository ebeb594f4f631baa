// An HTTP/2-only client for the brokered path (tests/integration/t-agents.sh):
// plain Node, no npm dependency. Through $HTTPS_PROXY (a CONNECT), it offers
// only "h2" in its TLS handshake (as gRPC clients do), trusts what
// NODE_EXTRA_CA_CERTS adds, and sends one request:
//
//   node h2-client.mjs URL HEADER VALUE
//
// Prints "status N", each response header "h NAME VALUE", the body, and
// each trailer "t NAME VALUE"; exits 1 on any error.
import http from "node:http";
import http2 from "node:http2";
import tls from "node:tls";

const [url, header, value] = process.argv.slice(2);
const u = new URL(url);
const proxy = new URL(process.env.HTTPS_PROXY ?? process.env.https_proxy);
const fail = (what, e) => {
	console.log(`${what}: ${e?.message ?? e}`);
	process.exit(1);
};
const req = http.request({ host: proxy.hostname, port: proxy.port, method: "CONNECT", path: `${u.hostname}:${u.port || 443}` });
req.on("error", (e) => fail("proxy", e));
req.on("connect", (res, socket) => {
	if (res.statusCode !== 200) fail("CONNECT", res.statusCode);
	const ip = /^[0-9.]+$/.test(u.hostname);
	const s = tls.connect({ socket, host: u.hostname, servername: ip ? undefined : u.hostname, ALPNProtocols: ["h2"] });
	s.on("error", (e) => fail("tls", e));
	const c = http2.connect(url, { createConnection: () => s });
	c.on("error", (e) => fail("h2", e));
	const r = c.request({ ":method": "GET", ":path": u.pathname + u.search, [header]: value });
	r.on("error", (e) => fail("stream", e));
	r.on("response", (h) => {
		console.log(`status ${h[":status"]}`);
		for (const [k, v] of Object.entries(h)) if (!k.startsWith(":")) console.log(`h ${k} ${v}`);
	});
	r.on("trailers", (t) => Object.entries(t).forEach(([k, v]) => console.log(`t ${k} ${v}`)));
	let body = "";
	r.on("data", (d) => (body += d));
	r.on("end", () => {
		console.log(body);
		c.close();
	});
	r.end();
});
req.end();
