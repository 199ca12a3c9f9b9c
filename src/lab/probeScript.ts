/**
 * A TCP/UDP client run inside a namespace as one node process (one spawn for
 * hundreds of connections): opens connections from given source ports and
 * reports who answered. The code is a constant of ours; only numbers and
 * addresses we validated travel in its JSON argument.
 */
export const PROBE_SCRIPT = `
const net = await import("node:net");
const dgram = await import("node:dgram");
const { host, port, sports, proto, concurrency, timeoutMs, payload } = JSON.parse(process.argv[1]);
const results = new Array(sports.length).fill(null);
function tcp(i) {
  return new Promise((resolve) => {
    let data = "";
    const s = net.connect({ host, port, localPort: sports[i] || undefined });
    const t = setTimeout(() => { s.destroy(); resolve(); }, timeoutMs);
    s.on("data", (d) => (data += d));
    s.on("error", () => { clearTimeout(t); resolve(); });
    s.on("close", () => { clearTimeout(t); const d = data.trim(); results[i] = d.length > 200 ? d.split(" ")[0] + " " + d.length : d || null; resolve(); });
  });
}
function udp(i) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    const t = setTimeout(() => { s.close(); resolve(); }, timeoutMs);
    s.on("message", (m) => { results[i] = m.toString().trim(); clearTimeout(t); s.close(); resolve(); });
    s.on("error", () => { clearTimeout(t); resolve(); });
    s.bind(sports[i] || 0, () => s.send(Buffer.alloc(payload || 16, 120), port, host));
  });
}
let next = 0;
async function worker() {
  while (next < sports.length) {
    const i = next++;
    await (proto === "udp" ? udp(i) : tcp(i));
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(JSON.stringify(results));
`;

/** A server for load-balancer targets: answers TCP and UDP on the VIPs with the target's name. */
export const SERVER_SCRIPT = `
const net = await import("node:net");
const dgram = await import("node:dgram");
const http = await import("node:http");
const { name, addresses, tcpPort, bigPort, udpPort, streamPort, own = [] } = JSON.parse(process.argv[1]);
const big = "x".repeat(20000);
// health checks reach the target on its own address (through its conduit): a TCP port and an HTTP /healthz
for (const address of own) {
  net.createServer((s) => { s.on("error", () => {}); s.end(); }).listen({ host: address, port: tcpPort, ipv6Only: address.includes(":") });
  http.createServer((req, res) => { res.writeHead(req.url === "/healthz" ? 200 : 404); res.end(name + "\\n"); }).listen({ host: address, port: 8080, ipv6Only: address.includes(":") });
}
for (const address of addresses) {
  net.createServer((s) => { s.on("error", () => {}); s.end(name + "\\n"); }).listen({ host: address, port: tcpPort, ipv6Only: address.includes(":") });
  // a large answer in full-size segments: with a smaller MTU on the way, only path MTU discovery gets it through
  net.createServer((s) => { s.on("error", () => {}); s.end(name + " " + big + "\\n"); }).listen({ host: address, port: bigPort, ipv6Only: address.includes(":") });
  const u = address.includes(":") ? dgram.createSocket({ type: "udp6", ipv6Only: true }) : dgram.createSocket("udp4");
  u.on("message", (m, rinfo) => u.send(name + " " + m.length + "\\n", rinfo.port, rinfo.address));
  u.bind(udpPort, address);
  // long-lived flows: every line is answered with the target's name, for as long as the client keeps sending
  if (streamPort) net.createServer((s) => { s.on("error", () => {}); s.setNoDelay(true); s.on("data", (d) => { for (const c of d.toString()) if (c === "\\n") s.write(name + "\\n"); }); }).listen({ host: address, port: streamPort, ipv6Only: address.includes(":") });
}
`;
