/**
 * The API over TCP (issue 12, item 2): off by default; when configured, a
 * target on another host registers itself with the bearer token of
 * `daemon.api.tokenFile`, and a request without it is refused. A token file
 * others can read stops the daemon before it listens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../../src/lab/lab.js";
import { buildLoadBalancer } from "../../src/lab/loadBalancer.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";

const dir = mkdtempSync(join(tmpdir(), "symroute-token-"));
const tokenFile = join(dir, "api.token");
const TOKEN = "s3cr3t-token-0123456789abcdef";
// the listener is where the daemon process runs: with --netns that is the host's namespace (its kernel work goes
// into the namespace), so the test reaches it on loopback
const LISTEN = "127.0.0.1:19480";
const config = (token: string) =>
  readFileSync(examplePath("load-balancer.yaml"), "utf8")
    .replace(/\n      - \{ name: target-d[^\n]*/, "")
    .replace("    flows:", "    registration: { lease: 60s }\n    flows:")
    .concat(`daemon:\n  metrics: "off"\n  api: { listen: "${LISTEN}", tokenFile: "${token}" }\n`);

/** An HTTP request to the TCP API, as a remote target would send it. */
async function request(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://${LISTEN}${path}`, { method, headers: { ...headers, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe.skipIf(!isRoot)("the API over TCP", () => {
  const lab = new Lab("ra");
  let daemon: CliRun | undefined;

  beforeAll(async () => {
    await buildLoadBalancer(lab);
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", lab.ns("fe")]);
    await lab.teardown();
  });

  it("refuses to start with a token file others can read", () => {
    writeFileSync(tokenFile, TOKEN + "\n");
    chmodSync(tokenFile, 0o644);
    const r = cli(["run", configFile(config(tokenFile), "ra.yaml"), "--netns", lab.ns("fe")], {}, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("readable by its owner only");
  });

  it("answers only with the bearer token; a remote target registers itself", async () => {
    chmodSync(tokenFile, 0o600);
    daemon = await startDaemon([configFile(config(tokenFile), "ra.yaml"), "--netns", lab.ns("fe")]);
    const none = await request("GET", "/v1/status", {});
    expect(none.status).toBe(401);
    const wrong = await request("GET", "/v1/status", { authorization: "Bearer not-the-token-at-all" });
    expect(wrong.status).toBe(401);
    const add = await request("POST", "/v1/balancers/stream-a/targets", { authorization: `Bearer ${TOKEN}` }, { name: "target-d", via: "172.16.1.8", interface: "conduit-b", lease: "30s" });
    expect(add.status, JSON.stringify(add.body)).toBe(201);
    const list = JSON.parse(cli(["lb", "target", "list", "stream-a", "--netns", lab.ns("fe"), "--json"]).stdout) as { targets: { name: string; source: string }[] };
    expect(list.targets.find((t) => t.name === "target-d")?.source).toBe("registered");
    const bad = await request("POST", "/v1/balancers/stream-a/targets", { authorization: `Bearer ${TOKEN}` }, { name: "target-e", via: "172.16.1.9" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain("interface");
  });
});
