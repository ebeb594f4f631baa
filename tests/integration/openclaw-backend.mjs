// Drives the clawbox sandbox backend (integrations/openclaw) through
// OpenClaw's own sandbox SDK, as OpenClaw's tools do, without a gateway or a
// model: t-openclaw.sh copies this file and the plugin into a dir whose
// node_modules/openclaw is the pinned package, and runs it on Node 24.
//
//   node openclaw-backend.mjs BINARY WORKSPACE SCOPEKEY OP [ARG...] [:: OP [ARG...]]...
//
// Runs the OPs in order on one backend (Node and OpenClaw's SDK load once);
// each prints one JSON line {ok, ...}; a refusal is ok:false with the
// error's message. OPs:
//   box                      the box the scope maps to
//   write PATH TEXT          the write/edit tools' file write
//   read PATH                the read tool's file read
//   ls PATH                  the ls tool's directory listing
//   mkdir PATH | rm PATH | mv FROM TO
//   exec COMMAND [WORKDIR]   the exec tool: its exec spec run as OpenClaw runs
//                            it (stdout, stderr, code), and the spec's argv
//   down                     the manager's removeRuntime (openclaw sandbox recreate)
// OC_PLUGIN_CONFIG in the environment: more of the plugin's config, as JSON.
import { spawn } from "node:child_process";
import plugin from "./index.js";
import {
  getSandboxBackendFactory,
  getSandboxBackendManager,
} from "openclaw/plugin-sdk/sandbox";

const [binary, workspaceDir, scopeKey, ...rest] = process.argv.slice(2);
const ops = [[]];
for (const a of rest) a === "::" ? ops.push([]) : ops.at(-1).push(a);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

// OC_PLUGIN_CONFIG: more of the plugin's config, as JSON ({"session": true}).
const extra = JSON.parse(process.env.OC_PLUGIN_CONFIG || "{}");
plugin.register({ registrationMode: "full", pluginConfig: { binary, ...extra } });

const cfg = {
  backend: "clawbox",
  scope: "agent",
  workspaceAccess: "rw",
  docker: { env: {}, binds: [] },
  ssh: {},
  tools: {},
  browser: { enabled: false },
};

function runSpec(spec) {
  return new Promise((resolve) => {
    const child = spawn(spec.argv[0], spec.argv.slice(1), {
      env: spec.env,
      cwd: spec.cwd,
      stdio: [spec.stdinMode === "pipe-open" ? "pipe" : "ignore", "pipe", "pipe"],
    });
    child.stdin?.end();
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ stdout, stderr, code }));
  });
}

async function backend() {
  const handle = await getSandboxBackendFactory("clawbox")({
    sessionKey: scopeKey,
    scopeKey,
    workspaceDir,
    agentWorkspaceDir: workspaceDir,
    cfg,
  });
  const sandbox = {
    workspaceDir,
    agentWorkspaceDir: workspaceDir,
    workspaceAccess: "rw",
    containerName: handle.runtimeId,
    containerWorkdir: handle.workdir,
    docker: cfg.docker,
    backend: handle,
  };
  return { handle, fs: handle.createFsBridge({ sandbox }) };
}

async function run(b, op, args) {
  if (op === "down") {
    const { boxName } = await import("./index.js");
    await getSandboxBackendManager("clawbox").removeRuntime({
      entry: { containerName: boxName(scopeKey, workspaceDir) },
    });
    return { ok: true };
  }
  const { handle, fs } = await b();
  switch (op) {
    case "box":
      return { ok: true, box: handle.runtimeId, workdir: handle.workdir };
    case "write":
      await fs.writeFile({ filePath: args[0], data: args[1], mkdir: true });
      return { ok: true };
    case "read":
      return { ok: true, text: (await fs.readFile({ filePath: args[0] })).toString("utf8") };
    case "ls":
      return { ok: true, entries: (await fs.readDirectory({ filePath: args[0] })).map((e) => e.name) };
    case "mkdir":
      await fs.mkdirp({ filePath: args[0] });
      return { ok: true };
    case "rm":
      await fs.remove({ filePath: args[0], recursive: true, force: false });
      return { ok: true };
    case "mv":
      await fs.rename({ from: args[0], to: args[1] });
      return { ok: true };
    case "exec": {
      const workdir = args[1] ? await handle.validateWorkdir(args[1]) : undefined;
      if (args[1] && !workdir) return { ok: false, error: `workdir refused: ${args[1]}` };
      const spec = await handle.buildExecSpec({ command: args[0], workdir, env: {}, usePty: false });
      const r = await runSpec(spec);
      await handle.finalizeExec?.({ status: "completed", exitCode: r.code, timedOut: false, token: spec.finalizeToken });
      return { ok: true, argv: spec.argv, ...r };
    }
  }
  throw new Error(`unknown op ${op}`);
}

async function main() {
  let pending = null;
  const b = () => (pending ??= backend());
  for (const [op, ...args] of ops) {
    try {
      out(await run(b, op, args));
    } catch (e) {
      out({ ok: false, error: String(e?.message ?? e) });
    }
  }
}

main();
