// A real MCP client for t-mcp.sh: @modelcontextprotocol/sdk's Client over
// its StdioClientTransport, started as `node mcp-client.mjs CMD ARGS...`.
// It connects (initialize, notifications/initialized), prints one JSON line
// {server, protocol, tools}, then for each JSON line {name, arguments} on
// its stdin prints the CallToolResult as one JSON line (the SDK checks
// structuredContent against the tool's outputSchema), or
// {protocolError: CODE, message} when the server answered an error (or the
// call was cancelled: {name, arguments, abortAfterMs}).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createInterface } from 'node:readline';

const [command, ...args] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args, env: process.env, stderr: 'inherit' });
let protocol = null;
transport.setProtocolVersion = (v) => { protocol = v; }; // the client tells it the negotiated one
const client = new Client({ name: 'clawbox-t-mcp', version: '1.0.0' });
await client.connect(transport);
const { tools } = await client.listTools();
console.log(JSON.stringify({
	server: client.getServerVersion(),
	protocol,
	tools: tools.map((t) => t.name),
}));
for await (const line of createInterface({ input: process.stdin })) {
	if (!line.trim()) continue;
	const { abortAfterMs, ...call } = JSON.parse(line);
	// abortAfterMs: cancel the call after that long (the SDK sends
	// notifications/cancelled for it and rejects with an AbortError).
	const ac = new AbortController();
	const timer = abortAfterMs ? setTimeout(() => ac.abort('test'), abortAfterMs) : null;
	try {
		console.log(JSON.stringify(await client.callTool(call, undefined, { signal: ac.signal })));
	} catch (e) {
		console.log(JSON.stringify({ protocolError: e.code ?? null, message: String(e.message) }));
	} finally {
		if (timer) clearTimeout(timer);
	}
}
await client.close();
