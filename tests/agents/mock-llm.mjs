// A mock LLM API for the end-to-end tests (tests/integration/t-agents.sh):
// plain Node (20 or later), no npm dependency.
//
//   node mock-llm.mjs --listen ADDR:PORT --log FILE [--bodies DIR]
//                     [--tls CERT.pem KEY.pem [--h2]]
//
// Speaks Anthropic Messages (POST /v1/messages, streaming SSE or not; and
// /v1/messages/count_tokens), OpenAI Responses (POST /v1/responses,
// streaming) and Chat Completions (POST /v1/chat/completions, streaming or
// not). For a conversation with no tool result yet it answers with ONE tool
// call that writes a file, chosen from the tools the request offers: the
// one `TOOL=NAME` in the user's text names, else the first of Bash,
// shell_command, exec_command, shell, Write, apply_patch (Claude Code's and
// Codex's), else any tool whose schema has a `command`. After a tool result
// it gives a final text answer; with no usable tool (a title, a quota probe)
// it answers text. The file is named by `FILE=NAME` in the user's text
// (default mock-out.txt) and holds "written by TOOL".
//
// Every request is one JSON line in the log: its number and time, method,
// path, peer address (the proxy), the headers' names, whether an auth header
// (authorization, x-api-key) was present, the offered tools' names, whether
// the answer streamed, the start of a tool result and what the mock
// answered. --bodies DIR also keeps every request body (to read what a
// client sends). Anything else gets a 404 (logged too). --tls serves HTTPS
// with that certificate (brokered credentials: the log then also has the
// auth header's value, "auth_value", to check what reached the API);
// with --h2 it speaks HTTP/2 only (and logs "proto"). Over TLS every
// answer echoes the auth header's value in "x-auth-echo", as a careless API
// might: clawbox's proxy must hand the box the placeholder instead.
import http from "node:http";
import https from "node:https";
import http2 from "node:http2";
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
};
const listen = opt("--listen") ?? "127.0.0.1:8080";
const logFile = opt("--log") ?? "/dev/stderr";
const bodiesDir = opt("--bodies");
const tls = args.indexOf("--tls");
let seq = 0;
let reqs = 0;

const log = (rec) => fs.appendFileSync(logFile, JSON.stringify(rec) + "\n");
const id = (p) => `${p}_mock${++seq}`;

// The user's text of a message list (strings or content parts), joined.
function textOf(content) {
	if (typeof content === "string") return content;
	if (!Array.isArray(content)) return "";
	return content.map((c) => (typeof c === "string" ? c : (c?.text ?? c?.input_text ?? ""))).join("\n");
}
// What the user's texts ask of the mock: FILE=NAME (the file to write,
// default mock-out.txt), TOOL=NAME (the tool to call when offered, else the
// first that fits), DIR=PATH (the agent's directory, for a tool that wants
// an absolute path; default the mock's own).
function hints(texts) {
	const all = texts.join("\n");
	const get = (k) => new RegExp(`${k}=([A-Za-z0-9._/-]+)`).exec(all)?.[1];
	return { file: get("FILE") ?? "mock-out.txt", tool: get("TOOL"), dir: get("DIR") ?? process.cwd() };
}
const shq = (s) => `'${s.replace(/'/g, "'\\''")}'`;

// The tool call that writes the file the hints name, for the tools offered:
// {name, input, custom} (custom: a free-form tool whose input is a string),
// or null when no tool fits.
function pickTool(tools, h) {
	const { file, dir } = h;
	const say = (n) => `printf '%s\\n' ${shq(`written by ${n}`)} > ${shq(file)}`;
	const patch = `*** Begin Patch\n*** Add File: ${file}\n+written by apply_patch\n*** End Patch\n`;
	const calls = {
		Bash: () => ({ input: { command: say("Bash"), description: "write " + file } }),
		Write: () => ({ input: { file_path: path.resolve(dir, file), content: "written by Write\n" } }),
		shell_command: () => ({ input: { command: say("shell_command") } }),
		exec_command: () => ({ input: { cmd: say("exec_command") } }),
		shell: () => ({ input: { command: ["sh", "-c", say("shell")] } }),
		apply_patch: (t) => (t.custom ? { input: patch, custom: true } : { input: { input: patch } }),
		// Codex's code mode: JavaScript that calls its nested tools.
		exec: () => ({ custom: true, input: h.tool === "exec_command"
			? `text(await tools.exec_command({ cmd: ${JSON.stringify(say("exec"))} }));`
			: `text(await tools.apply_patch(${JSON.stringify(patch.replace("apply_patch", "exec"))}));` }),
	};
	const order = [h.tool, "Bash", "shell_command", "exec_command", "shell", "Write", "apply_patch", "exec"];
	for (const name of order) {
		const t = tools.find((x) => x.name === name);
		if (t && calls[name]) return { name, ...calls[name](t) };
	}
	const any = tools.find((t) => t.props?.includes("command"));
	return any ? { name: any.name, input: { command: say(any.name) } } : null;
}

function sse(res) {
	res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
	return (event, data) => res.write((event ? `event: ${event}\n` : "") + `data: ${JSON.stringify(data)}\n\n`);
}
function json(res, code, body) {
	const b = JSON.stringify(body);
	res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(b) });
	res.end(b);
}

// Anthropic Messages.
function anthropic(req, res, body, rec) {
	const tools = (body.tools ?? []).map((t) => ({ name: t.name, props: Object.keys(t.input_schema?.properties ?? {}) }));
	const msgs = body.messages ?? [];
	const last = msgs[msgs.length - 1];
	const result = Array.isArray(last?.content) && last.content.find((c) => c.type === "tool_result");
	const done = !!result;
	if (result) rec.result = textOf(result.content).slice(0, 200);
	const h = hints(msgs.filter((m) => m.role === "user").map((m) => textOf(m.content)));
	const call = done ? null : pickTool(tools, h);
	rec.tools = tools.map((t) => t.name);
	rec.stream = !!body.stream;
	rec.answer = call ? `tool:${call.name}` : "text";
	const text = done ? "Done: the file is written." : "Hello from the mock.";
	const block = call ? { type: "tool_use", id: id("toolu"), name: call.name, input: call.input } : { type: "text", text };
	const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
	const msg = { id: id("msg"), type: "message", role: "assistant", model: body.model ?? "mock", content: [block],
		stop_reason: call ? "tool_use" : "end_turn", stop_sequence: null, usage };
	if (!body.stream) return json(res, 200, msg);
	const send = sse(res);
	send("message_start", { type: "message_start", message: { ...msg, content: [], stop_reason: null } });
	const start = call ? { ...block, input: {} } : { type: "text", text: "" };
	send("content_block_start", { type: "content_block_start", index: 0, content_block: start });
	const delta = call ? { type: "input_json_delta", partial_json: JSON.stringify(call.input) } : { type: "text_delta", text };
	send("content_block_delta", { type: "content_block_delta", index: 0, delta });
	send("content_block_stop", { type: "content_block_stop", index: 0 });
	send("message_delta", { type: "message_delta", delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { output_tokens: 5 } });
	send("message_stop", { type: "message_stop" });
	res.end();
}

// OpenAI Responses (streamed as the Responses API streams; a non-streaming
// request gets the final response object).
function responses(req, res, body, rec) {
	const input = Array.isArray(body.input) ? body.input : [{ role: "user", content: body.input ?? "" }];
	// Codex also offers tools in the input (an additional_tools item), some
	// of them in namespaces.
	const offered = [...(body.tools ?? []), ...input.filter((i) => i.type === "additional_tools").flatMap((i) => i.tools ?? [])];
	const flat = offered.flatMap((t) => (t.type === "namespace" ? (t.tools ?? []) : [t]));
	const tools = flat.map((t) => ({ name: t.name ?? t.function?.name, custom: t.type === "custom",
		props: Object.keys(t.parameters?.properties ?? {}) }));
	const result = input.find((i) => /_call_output$/.test(i.type ?? ""));
	const done = !!result;
	if (result) rec.result = JSON.stringify(result.output).slice(0, 200);
	const h = hints(input.filter((i) => i.role === "user").map((i) => textOf(i.content)));
	const call = done ? null : pickTool(tools, h);
	rec.tools = tools.map((t) => t.name);
	rec.stream = body.stream !== false;
	rec.answer = call ? `tool:${call.name}` : "text";
	const text = done ? "Done: the file is written." : "Hello from the mock.";
	const item = !call ? { type: "message", id: id("msg"), role: "assistant", status: "completed",
		content: [{ type: "output_text", text, annotations: [] }] }
		: call.custom ? { type: "custom_tool_call", id: id("ctc"), call_id: id("call"), name: call.name, input: call.input, status: "completed" }
		: { type: "function_call", id: id("fc"), call_id: id("call"), name: call.name, arguments: JSON.stringify(call.input), status: "completed" };
	const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5,
		output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 };
	const resp = { id: id("resp"), object: "response", created_at: Math.floor(Date.now() / 1000), status: "completed",
		model: body.model ?? "mock", output: [item], usage };
	if (body.stream === false) return json(res, 200, resp);
	const send = sse(res);
	send("response.created", { type: "response.created", response: { ...resp, status: "in_progress", output: [] } });
	send("response.output_item.added", { type: "response.output_item.added", output_index: 0, item });
	if (!call) send("response.output_text.delta", { type: "response.output_text.delta", item_id: item.id, output_index: 0, content_index: 0, delta: text });
	send("response.output_item.done", { type: "response.output_item.done", output_index: 0, item });
	send("response.completed", { type: "response.completed", response: resp });
	res.end();
}

// OpenAI Chat Completions.
function chat(req, res, body, rec) {
	const tools = (body.tools ?? []).map((t) => ({ name: t.function?.name, props: Object.keys(t.function?.parameters?.properties ?? {}) }));
	const msgs = body.messages ?? [];
	const result = msgs.find((m) => m.role === "tool");
	const done = !!result;
	if (result) rec.result = textOf(result.content).slice(0, 200);
	const h = hints(msgs.filter((m) => m.role === "user").map((m) => textOf(m.content)));
	const call = done ? null : pickTool(tools, h);
	rec.tools = tools.map((t) => t.name);
	rec.stream = !!body.stream;
	rec.answer = call ? `tool:${call.name}` : "text";
	const text = done ? "Done: the file is written." : "Hello from the mock.";
	const tc = call && { id: id("call"), type: "function", function: { name: call.name, arguments: JSON.stringify(call.input) } };
	const base = { id: id("chatcmpl"), object: "chat.completion", created: Math.floor(Date.now() / 1000), model: body.model ?? "mock" };
	const finish = call ? "tool_calls" : "stop";
	const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
	if (!body.stream)
		return json(res, 200, { ...base, usage, choices: [{ index: 0, finish_reason: finish,
			message: call ? { role: "assistant", content: null, tool_calls: [tc] } : { role: "assistant", content: text } }] });
	const send = sse(res);
	const chunk = { ...base, object: "chat.completion.chunk" };
	const delta = call ? { role: "assistant", tool_calls: [{ index: 0, ...tc }] } : { role: "assistant", content: text };
	send(null, { ...chunk, choices: [{ index: 0, delta, finish_reason: null }] });
	send(null, { ...chunk, choices: [{ index: 0, delta: {}, finish_reason: finish }], usage });
	res.write("data: [DONE]\n\n");
	res.end();
}

const routes = {
	"POST /v1/messages": anthropic,
	"POST /v1/messages/count_tokens": (req, res, body, rec) => ((rec.answer = "count"), json(res, 200, { input_tokens: 10 })),
	"POST /v1/responses": responses,
	"POST /v1/chat/completions": chat,
	"GET /v1/models": (req, res, body, rec) => ((rec.answer = "models"),
		json(res, 200, { object: "list", data: [{ id: "mock-model", object: "model", created: 0, owned_by: "mock" }] })),
};

const handler = (req, res) => {
	const chunks = [];
	req.on("data", (c) => chunks.push(c));
	req.on("end", () => {
		const url = new URL(req.url, "http://mock");
		const rec = { n: ++reqs, t: Date.now(), method: req.method, path: url.pathname, host: req.headers.host,
			from: req.socket.remoteAddress?.replace(/^::ffff:/, ""), headers: Object.keys(req.headers).sort(), auth: !!(req.headers.authorization || req.headers["x-api-key"]) };
		if (tls >= 0) rec.auth_value = req.headers["x-api-key"] ?? req.headers.authorization ?? null;
		if (tls >= 0) rec.proto = req.httpVersion;
		// an API that echoes the key (the proxy must scrub it on the way back)
		if (tls >= 0 && rec.auth_value) res.setHeader("x-auth-echo", rec.auth_value);
		const raw = Buffer.concat(chunks).toString();
		if (bodiesDir) fs.writeFileSync(path.join(bodiesDir, `${rec.n}.json`), raw);
		const route = routes[`${req.method} ${url.pathname}`];
		try {
			if (!route) {
				rec.answer = 404;
				json(res, 404, { error: { type: "not_found_error", message: `mock: no ${req.method} ${url.pathname}` } });
			} else route(req, res, raw ? JSON.parse(raw) : {}, rec);
		} catch (e) {
			rec.answer = `error: ${e.message}`;
			if (!res.headersSent) json(res, 400, { error: { type: "invalid_request_error", message: e.message } });
			else res.end();
		}
		log(rec);
	});
};
const tlsOpts = () => ({ cert: fs.readFileSync(args[tls + 1]), key: fs.readFileSync(args[tls + 2]) });
const server = tls < 0 ? http.createServer(handler)
	: args.includes("--h2") ? http2.createSecureServer(tlsOpts(), handler)
	: https.createServer(tlsOpts(), handler);
const colon = listen.lastIndexOf(":");
server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon), () => log({ listening: listen }));
