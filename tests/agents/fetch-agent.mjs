// The smallest agent: a Chat Completions tool loop with Node's own fetch()
// (no npm package), for tests/integration/t-agents.sh. It offers one tool,
// `shell` (command: argv), runs the call the model answers with, sends its
// output back and prints the final answer. MOCK_URL is the API's base URL,
// OPENAI_API_KEY its key. Streams (SSE), as the agents do.
import { execFileSync } from "node:child_process";

const url = `${process.env.MOCK_URL}/v1/chat/completions`;
const tools = [{ type: "function", function: { name: "shell", description: "run a command",
	parameters: { type: "object", properties: { command: { type: "array", items: { type: "string" } } } } } }];
const messages = [{ role: "user", content: "write the file FILE=node.txt" }];

// One streamed completion: {content, calls} from its SSE chunks.
async function complete() {
	const res = await fetch(url, { method: "POST",
		headers: { "content-type": "application/json", authorization: `Bearer ${process.env.OPENAI_API_KEY}` },
		body: JSON.stringify({ model: "mock-model", stream: true, messages, tools }) });
	if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
	let content = "";
	const calls = [];
	for (const line of (await res.text()).split("\n")) {
		if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
		const delta = JSON.parse(line.slice(6)).choices?.[0]?.delta ?? {};
		content += delta.content ?? "";
		for (const tc of delta.tool_calls ?? []) {
			const c = (calls[tc.index] ??= { id: tc.id, name: "", args: "" });
			c.name += tc.function?.name ?? "";
			c.args += tc.function?.arguments ?? "";
		}
	}
	return { content, calls };
}

for (let turn = 0; turn < 4; turn++) {
	const { content, calls } = await complete();
	if (!calls.length) {
		console.log(content);
		process.exit(0);
	}
	messages.push({ role: "assistant", content: null, tool_calls: calls.map((c) => ({ id: c.id, type: "function",
		function: { name: c.name, arguments: c.args } })) });
	for (const c of calls) {
		const argv = JSON.parse(c.args).command;
		const out = execFileSync(argv[0], argv.slice(1), { encoding: "utf8" });
		messages.push({ role: "tool", tool_call_id: c.id, content: out || "(no output)" });
	}
}
console.error("no final answer after 4 turns");
process.exit(1);
