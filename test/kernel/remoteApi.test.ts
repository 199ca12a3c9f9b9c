/**
 * The API over TCP (issue 12, item 2; issue 17, items 3 and 4): off by
 * default; when configured, a target on another host registers itself with a
 * bearer token of `daemon.api.tokenFile`, and a request without one is
 * refused. A token file others can read stops the daemon before it listens.
 * Registrants are told apart by named tokens, each kept to its balancers and
 * away from the file's targets' drains; failed logins are counted; reload
 * re-reads the token file; a network address needs TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../../src/lab/lab.js";
import { buildLoadBalancer } from "../../src/lab/loadBalancer.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";

const dir = mkdtempSync(join(tmpdir(), "symroute-token-"));
const tokenFile = join(dir, "api.token");
const TOKEN = "s3cr3t-token-0123456789abcdef";
const ALPHA = "alpha-token-0123456789abcdef";
const BRAVO = "bravo-token-0123456789abcdef";
// the listener is where the daemon process runs: with --netns that is the host's namespace (its kernel work goes
// into the namespace), so the test reaches it on loopback
const API_PORT = 19480;
const LISTEN = `127.0.0.1:${API_PORT}`;
const METRICS = `127.0.0.1:${30000 + (process.pid % 20000)}`;
const config = (api: string, metrics = '"off"') =>
  readFileSync(examplePath("load-balancer.yaml"), "utf8")
    .replace(/\n      - \{ name: target-d[^\n]*/, "")
    .replace("    flows:", "    registration: { lease: 60s }\n    flows:")
    .concat(`daemon:\n  metrics: ${metrics}\n  api: ${api}\n`);
const plainApi = (token: string) => `{ listen: "${LISTEN}", tokenFile: "${token}" }`;

/** An HTTP request to the TCP API, as a remote target would send it. */
async function request(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://${LISTEN}${path}`, { method, headers: { ...headers, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The value of one sample in a Prometheus scrape. */
async function metric(sample: string): Promise<number> {
  const text = await fetch(`http://${METRICS}/metrics`).then((r) => r.text());
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  return line ? Number(line.slice(sample.length + 1)) : NaN;
}

/** Writes a token file readable by its owner only. */
function writeTokens(text: string, path = tokenFile): void {
  writeFileSync(path, text);
  chmodSync(path, 0o600);
}

/** A self-signed certificate for localhost (EC P-256, a day), as openssl makes it; returns the paths. */
function selfSigned(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  chmodSync(key, 0o600);
  return { cert, key };
}

/** An HTTPS request that trusts `ca` only; the answer and the certificate the server showed. */
function tlsRequest(path: string, token: string, ca: Buffer): Promise<{ status: number; body: Record<string, unknown>; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: API_PORT, servername: "localhost", path, method: "GET", ca, headers: bearer(token), agent: false }, (res) => {
      let text = "";
      const fingerprint = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256;
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, fingerprint }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(!isRoot)("the API over TCP", () => {
  const lab = new Lab("ra", "ha");
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
    const r = cli(["run", configFile(config(plainApi(tokenFile)), "ra.yaml"), "--netns", lab.ns("fe")], {}, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("readable by its owner only");
  });

  it("refuses plain HTTP on a network address, naming the field and its place", () => {
    chmodSync(tokenFile, 0o600);
    const r = cli(["run", configFile(config(`{ listen: "0.0.0.0:${API_PORT}", tokenFile: "${tokenFile}" }`), "ra.yaml"), "--netns", lab.ns("fe")], {}, 30_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ra\.yaml:\d+:\d+: daemon\.api\.listen: 0\.0\.0\.0:19480 is not a loopback address: the API on a network needs daemon\.api\.tls/);
  });

  it("answers only with a bearer token, the scheme in any case; a remote target registers itself; failures are counted", async () => {
    daemon = await startDaemon([configFile(config(plainApi(tokenFile), `"${METRICS}"`), "ra.yaml"), "--netns", lab.ns("fe")]);
    const none = await request("GET", "/v1/status", {});
    expect(none.status).toBe(401);
    const wrong = await request("GET", "/v1/status", bearer("not-the-token-at-all"));
    expect(wrong.status).toBe(401);
    const basic = await request("GET", "/v1/status", { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` });
    expect(basic.status).toBe(401);
    for (const scheme of ["bearer", "BEARER"]) expect((await request("GET", "/v1/status", { authorization: `${scheme} ${TOKEN}` })).status, scheme).toBe(200);
    expect(await metric('symroute_api_auth_failures_total{reason="missing"}')).toBe(1);
    expect(await metric('symroute_api_auth_failures_total{reason="unknown-token"}')).toBe(1);
    expect(await metric('symroute_api_auth_failures_total{reason="malformed"}')).toBe(1);
    await daemon.logged('"msg":"API authentication failed","reason":"missing"');
    expect(daemon.output()).not.toContain("not-the-token-at-all");

    const add = await request("POST", "/v1/balancers/stream-a/targets", bearer(TOKEN), { name: "target-d", via: "172.16.1.8", interface: "conduit-b", lease: "30s" });
    expect(add.status, JSON.stringify(add.body)).toBe(201);
    const list = JSON.parse(cli(["lb", "target", "list", "stream-a", "--netns", lab.ns("fe"), "--json"]).stdout) as { targets: { name: string; source: string }[] };
    expect(list.targets.find((t) => t.name === "target-d")?.source).toBe("registered");
    const bad = await request("POST", "/v1/balancers/stream-a/targets", bearer(TOKEN), { name: "target-e", via: "172.16.1.9" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain("interface");
  });

  it("a token may not drain the file's targets (403); the local socket may", async () => {
    const drain = await request("POST", "/v1/balancers/stream-a/targets/target-a/drain", bearer(TOKEN), {});
    expect(drain.status, JSON.stringify(drain.body)).toBe(403);
    expect(drain.body.error).toContain("is the config file's: only the local socket drains it");
    expect((await request("POST", "/v1/balancers/stream-a/targets/target-a/undrain", bearer(TOKEN))).status).toBe(403);
    const local = cli(["lb", "target", "drain", "stream-a", "target-a", "--netns", lab.ns("fe"), "--json"]);
    expect(local.code, local.stderr).toBe(0);
    const back = cli(["lb", "target", "undrain", "stream-a", "target-a", "--netns", lab.ns("fe"), "--json"]);
    expect(back.code, back.stderr).toBe(0);
  });

  it("reload re-reads the token file: named tokens, each kept to its balancers; the old token is refused", async () => {
    writeTokens(`# registrants of stream-a and of a balancer to come\nalpha ${ALPHA} stream-a\nbravo ${BRAVO} stream-z\n`);
    const r = cli(["reload", "--netns", lab.ns("fe")]);
    expect(r.code, r.stderr).toBe(0);
    expect((await request("GET", "/v1/status", bearer(TOKEN))).status).toBe(401);
    expect((await request("GET", "/v1/status", bearer(ALPHA))).status).toBe(200);
    expect((await request("GET", "/v1/balancers/stream-a/targets", bearer(ALPHA))).status).toBe(200);

    const list = await request("GET", "/v1/balancers/stream-a/targets", bearer(BRAVO));
    expect(list.status).toBe(403);
    expect(list.body.error).toBe("token bravo may not use balancer stream-a");
    const add = await request("POST", "/v1/balancers/stream-a/targets", bearer(BRAVO), { name: "target-e", via: "172.16.1.9", interface: "conduit-b" });
    expect(add.status).toBe(403);
    expect((await request("DELETE", "/v1/balancers/stream-a/targets/target-d", bearer(BRAVO))).status).toBe(403);
    expect((await request("GET", "/v1/balancers", bearer(BRAVO))).body.balancers).toEqual([]);
    // reload is the operator's: the socket or SIGHUP
    expect((await request("POST", "/v1/reload", bearer(ALPHA))).status).toBe(403);
  });

  it("a registrant renews, removes and drains only its own targets (403 for another's)", async () => {
    const CHARLIE = "charlie-token-0123456789abcdef";
    writeTokens(`alpha ${ALPHA} stream-a\ncharlie ${CHARLIE} *\n`);
    expect(cli(["reload", "--netns", lab.ns("fe")]).code).toBe(0);
    const add = await request("POST", "/v1/balancers/stream-a/targets", bearer(ALPHA), { name: "target-e", via: "172.16.1.9", interface: "conduit-b" });
    expect(add.status, JSON.stringify(add.body)).toBe(201);
    expect((add.body.target as { owner?: string }).owner).toBe("token alpha");
    for (const [method, path] of [
      ["POST", "/v1/balancers/stream-a/targets/target-e/renew"],
      ["POST", "/v1/balancers/stream-a/targets/target-e/drain"],
      ["DELETE", "/v1/balancers/stream-a/targets/target-e"],
      // target-d was registered with the first token, which no longer exists: nobody else's to remove
      ["DELETE", "/v1/balancers/stream-a/targets/target-d"],
    ]) {
      const r = await request(method, path, bearer(CHARLIE), method === "POST" ? {} : undefined);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(403);
    }
    expect((await request("POST", "/v1/balancers/stream-a/targets", bearer(CHARLIE), { name: "target-e", via: "172.16.1.9", interface: "conduit-b" })).status).toBe(403);
    expect((await request("POST", "/v1/balancers/stream-a/targets/target-e/renew", bearer(ALPHA), {})).status).toBe(200);
    expect((await request("DELETE", "/v1/balancers/stream-a/targets/target-e", bearer(ALPHA))).status).toBe(200);
  });

  it("a token file that became invalid refuses the reload, naming its line; the tokens in force stay", async () => {
    writeTokens(`alpha ${ALPHA} stream-a\ncharlie ${ALPHA}\n`);
    const r = cli(["reload", "--netns", lab.ns("fe")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${tokenFile}:2: charlie: the same token as line 1`);
    expect(r.stderr).not.toContain(ALPHA);
    expect((await request("GET", "/v1/status", bearer(ALPHA))).status).toBe(200);
  });

  it("TLS: the API speaks HTTPS with the configured certificate, re-read on reload", async () => {
    daemon!.child.kill("SIGTERM");
    await daemon!.done;
    writeTokens(`alpha ${ALPHA} stream-a\n`);
    const first = selfSigned("first");
    const api = `{ listen: "${LISTEN}", tokenFile: "${tokenFile}", tls: { cert: "${first.cert}", key: "${first.key}" } }`;
    chmodSync(first.key, 0o644);
    const open = cli(["run", configFile(config(api), "ra.yaml"), "--netns", lab.ns("fe")], {}, 30_000);
    expect(open.code).toBe(1);
    expect(open.stderr).toContain(`daemon.api.tls.key ${first.key} has mode 644; others must not read it`);
    chmodSync(first.key, 0o600);
    daemon = await startDaemon([configFile(config(api), "ra.yaml"), "--netns", lab.ns("fe")]);
    const ca = readFileSync(first.cert);
    const ok = await tlsRequest("/v1/balancers/stream-a/targets", ALPHA, ca);
    expect(ok.status).toBe(200);
    // plain HTTP gets no answer from a TLS listener, and the certificate is checked
    await expect(fetch(`http://${LISTEN}/v1/status`, { headers: bearer(ALPHA) })).rejects.toThrow();
    await expect(tlsRequest("/v1/status", ALPHA, readFileSync(selfSigned("other").cert))).rejects.toThrow();

    const second = selfSigned("second");
    writeFileSync(first.cert, readFileSync(second.cert));
    writeFileSync(first.key, readFileSync(second.key));
    const r = cli(["reload", "--netns", lab.ns("fe")]);
    expect(r.code, r.stderr).toBe(0);
    const renewed = await tlsRequest("/v1/status", ALPHA, readFileSync(second.cert));
    expect(renewed.status).toBe(200);
    expect(renewed.fingerprint).not.toBe(ok.fingerprint);
  });
});
