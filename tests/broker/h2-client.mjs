// An HTTP/2-only client run in a box (tests/integration/t-broker.sh): plain
// Node (20 or later). Through $HTTPS_PROXY (a CONNECT) it offers only "h2",
// trusts what NODE_EXTRA_CA_CERTS adds, and sends every request of SPEC at
// once, as streams of one connection:
//
//   node h2-client.mjs HOST 'SPEC'
//   SPEC: [{"path": "/echo", "method": "GET", "headers": {...}, "body": "...",
//           "body_x": N (the body followed by N bytes of 'x'),
//           "count_only": true (the response's bytes counted, not kept),
//           "authority": "another.host"}]
//   ({ENV:NAME} in a path, a header value or a body: $NAME)
//
// H2_WAIT_SETTINGS=1: the requests wait for the server's SETTINGS.
// Prints one JSON line a request, in SPEC's order: {"status", "headers",
// "body", "len", "chunks": [[t_received, text], ...]} or {"error", "code"} (the
// stream's reset code); "session_error" when the connection failed.
import http from "node:http";
import http2 from "node:http2";
import tls from "node:tls";

const [host, specText] = process.argv.slice(2);
const env = (s) => s.replace(/\{ENV:(\w+)\}/g, (_, n) => process.env[n] ?? "");
const spec = JSON.parse(specText);
const proxy = new URL(process.env.HTTPS_PROXY ?? process.env.https_proxy);
const out = new Array(spec.length);
const done = () => {
	for (const o of out) console.log(JSON.stringify(o));
	process.exit(0);
};
const timer = setTimeout(() => {
	for (let i = 0; i < out.length; i++) out[i] ??= { error: "timeout" };
	done();
}, 15000);
const req = http.request({ host: proxy.hostname, port: proxy.port, method: "CONNECT", path: `${host}:443` });
req.on("error", (e) => {
	console.log(JSON.stringify({ session_error: `proxy: ${e.message}` }));
	process.exit(1);
});
req.on("connect", (res, socket) => {
	if (res.statusCode !== 200) {
		console.log(JSON.stringify({ session_error: `CONNECT ${res.statusCode}` }));
		process.exit(1);
	}
	const s = tls.connect({ socket, host, servername: host, ALPNProtocols: ["h2"] });
	const c = http2.connect(`https://${host}`, { createConnection: () => s });
	c.on("error", (e) => {
		console.log(JSON.stringify({ session_error: e.message }));
		process.exit(1);
	});
	// H2_WAIT_SETTINGS=1: no request before the server's SETTINGS (its
	// stream limit known), as a careful client does.
	if (process.env.H2_WAIT_SETTINGS) c.once("remoteSettings", () => send());
	else send();
	function send() {
	let left = spec.length;
	const finish = (i, o) => {
		if (out[i]) return;
		out[i] = o;
		if (--left === 0) {
			clearTimeout(timer);
			c.close();
			done();
		}
	};
	spec.forEach((r, i) => {
		const headers = { ":method": r.method ?? "GET", ":path": env(r.path) };
		if (r.authority) headers[":authority"] = r.authority;
		for (const [k, v] of Object.entries(r.headers ?? {})) headers[k] = env(v);
		const st = c.request(headers, { endStream: r.body === undefined && r.body_x === undefined });
		const o = { status: 0, headers: {}, body: "", chunks: [] };
		st.on("response", (h) => {
			o.status = h[":status"];
			for (const [k, v] of Object.entries(h)) if (!k.startsWith(":")) o.headers[k] = v;
		});
		o.len = 0;
		st.on("data", (d) => {
			o.len += d.length;
			if (r.count_only) return;
			o.body += d;
			o.chunks.push([Date.now() / 1000, d.toString()]);
		});
		st.on("end", () => finish(i, o));
		st.on("close", () => finish(i, o.status ? o : { error: "closed", code: st.rstCode }));
		st.on("error", (e) => finish(i, { error: e.message, code: st.rstCode }));
		if (r.body_x !== undefined) st.end(Buffer.concat([Buffer.from(env(r.body ?? "")), Buffer.alloc(r.body_x, "x")]));
		else if (r.body !== undefined) st.end(env(r.body));
	});
	}
});
req.end();
