// clawbox sandbox backend for OpenClaw: OpenClaw's sandboxed tools (exec,
// read, write, edit, apply_patch, ls) run in a clawbox box that is up.
//
// One box per sandbox runtime: OpenClaw hands the backend a scope key (one
// per agent, per session or shared, as agents.*.sandbox.scope says) and the
// host directory of that scope's workspace; the box's project is that
// directory, so the tools see it at /workspace and every write stays in the
// box's overlay until `clawbox sync` brings it home through the gate.
//
// Every command is `clawbox exec --box NAME [--session S] -- /bin/sh -c
// SCRIPT ARG...`: what OpenClaw (and so the model) chose — commands, paths,
// file contents — is only ever after `--` or on stdin, never where clawbox
// reads its own options. The file tools use OpenClaw's own remote-shell
// filesystem bridge (path pinning without following symlinks, python3 in the
// box) through the same command.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import {
  createRemoteShellSandboxBackend,
  createRemoteShellSandboxSession,
  registerSandboxBackend,
} from "openclaw/plugin-sdk/sandbox";

export const BACKEND_ID = "clawbox";
export const WORKDIR = "/workspace";
const BOX_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const RECHECK_MS = 10_000;

/** The box of one sandbox scope: readable, valid for clawbox, unique per
 * (scope key, workspace). */
export function boxName(scopeKey, workspaceDir) {
  const key = String(scopeKey ?? "");
  const slug = key
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 40);
  const hash = createHash("sha256").update(`${key}\0${workspaceDir}`).digest("hex");
  return `oc-${slug || "scope"}-${hash.slice(0, 12)}`;
}

/** clawbox's argv: its subcommand and options (chosen here, never from a
 * tool call), then `--`, then the command, which may carry the model's text. */
export function clawboxArgv(binary, sub, options, command) {
  for (const o of options)
    if (typeof o !== "string") throw new TypeError("clawbox option must be a string");
  return [binary, sub, ...options, "--", ...command];
}

function resolveConfig(raw) {
  const c = raw && typeof raw === "object" ? raw : {};
  const binary = typeof c.binary === "string" && c.binary.trim() ? c.binary.trim() : "clawbox";
  if (c.box !== undefined && (typeof c.box !== "string" || !BOX_NAME.test(c.box)))
    throw new Error("clawbox sandbox: box must be a clawbox box name");
  const upArgs = Array.isArray(c.upArgs) ? c.upArgs.map(String) : [];
  if (upArgs.includes("--")) throw new Error("clawbox sandbox: upArgs may not hold '--'");
  return { binary, box: c.box, session: c.session === true, upArgs };
}

/** Run clawbox (no shell) and collect its output; never rejects on a non-zero
 * exit. */
function run(binary, args, { cwd, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 4 << 20, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ code: error ? error.code : 0, stdout, stderr });
      },
    );
  });
}

async function boxStatus(cfg, box) {
  const r = await run(cfg.binary, ["status", "--box", box, "--json"]);
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}

function fail(what, r) {
  const detail = (r.stderr || r.stdout || "").trim() || `exit ${r.code}`;
  return new Error(`clawbox sandbox: ${what} failed: ${detail}`);
}

/** Make sure box is up for project: start it with `clawbox up` if not. A box
 * of another project is refused unless it was named in the config. */
async function ensureUp(cfg, box, project) {
  const s = await boxStatus(cfg, box);
  if (s && !cfg.box && s.project !== project)
    throw new Error(`clawbox sandbox: box ${box} belongs to ${s.project}, not ${project}`);
  if (s?.up) return;
  const r = await run(cfg.binary, ["up", "--box", box, "--project", project, ...cfg.upArgs]);
  if (r.code !== 0 && !(await boxStatus(cfg, box))?.up) throw fail(`clawbox up of ${box}`, r);
}

async function ensureSession(cfg, box, name) {
  const r = await run(cfg.binary, ["session", "create", name, "--box", box]);
  if (r.code === 0) return;
  const l = await run(cfg.binary, ["session", "list", "--box", box, "--json"]);
  let names = [];
  try {
    names = JSON.parse(l.stdout).map((s) => s.name);
  } catch {}
  if (!names.includes(name)) throw fail(`clawbox session create ${name}`, r);
}

/** One box (and session) kept up: checked again at most every RECHECK_MS,
 * one check at a time. */
function boxKeeper(cfg, box, project, session) {
  let last = 0;
  let pending = null;
  return async () => {
    if (Date.now() - last < RECHECK_MS) return;
    pending ??= (async () => {
      await ensureUp(cfg, box, project);
      if (session) await ensureSession(cfg, box, session);
      last = Date.now();
    })().finally(() => {
      pending = null;
    });
    await pending;
  };
}

function createFactory(cfg) {
  const label = `clawbox${cfg.session ? " session" : ""}`;
  return async (params) => {
    if ((params.cfg.docker?.binds?.length ?? 0) > 0)
      throw new Error("clawbox sandbox: sandbox.docker.binds is not supported (use clawbox up --mount)");
    const project = params.workspaceDir;
    const box = cfg.box ?? boxName(params.scopeKey, project);
    const session = cfg.session ? `oc-${boxName(params.scopeKey, project).slice(-12)}` : undefined;
    const keep = boxKeeper(cfg, box, project, session);
    await keep();
    const options = ["--box", box, ...(session ? ["--session", session] : [])];
    return await createRemoteShellSandboxBackend(params, {
      backendId: BACKEND_ID,
      runtimeId: box,
      configLabel: label,
      configLabelKind: "Box",
      preprovisionedWorkdir: { runtimeId: box, remoteWorkspaceDir: WORKDIR },
      createSession: async () => {
        await keep();
        return createRemoteShellSandboxSession({
          buildCommand: ({ remoteCommand }) => ({
            argv: clawboxArgv(cfg.binary, "exec", options, ["/bin/sh", "-c", remoteCommand]),
            env: process.env,
            cwd: project,
          }),
        });
      },
    });
  };
}

function createManager(cfg) {
  const label = `clawbox${cfg.session ? " session" : ""}`;
  return {
    async describeRuntime({ entry }) {
      const box = entry.containerName;
      const s = BOX_NAME.test(box) ? await boxStatus(cfg, box) : null;
      return {
        running: Boolean(s?.up),
        actualConfigLabel: entry.image,
        configLabelMatch: entry.image === label,
      };
    },
    async removeRuntime({ entry }) {
      const box = entry.containerName;
      if (!BOX_NAME.test(box)) throw new Error(`clawbox sandbox: ${box} is not a box name`);
      const r = await run(cfg.binary, ["down", "--box", box]);
      if (r.code !== 0 && (await boxStatus(cfg, box))?.up) throw fail(`clawbox down of ${box}`, r);
    },
  };
}

export default definePluginEntry({
  id: "clawbox",
  name: "clawbox sandbox",
  description: "Runs OpenClaw's sandboxed tools in a clawbox box",
  register(api) {
    // "full" in a gateway; `openclaw agent exec` (an embedded turn) loads
    // plugins for discovery only, and needs the backend all the same.
    const mode = api.registrationMode ?? "full";
    if (!["full", "discovery", "tool-discovery"].includes(mode)) return;
    const cfg = resolveConfig(api.pluginConfig);
    const unregister = registerSandboxBackend(BACKEND_ID, {
      factory: createFactory(cfg),
      manager: createManager(cfg),
      resolveWorkdir: () => WORKDIR,
    });
    api.lifecycle?.registerRuntimeLifecycle?.({
      id: "clawbox-sandbox-cleanup",
      cleanup: ({ reason, sessionKey, runId }) => {
        if (sessionKey !== undefined || runId !== undefined) return;
        if (reason === "disable" || reason === "restart") unregister();
      },
    });
  },
});
