/**
 * The router's side, for the lab and README: a BIRD 2 that learns the VIPs
 * from every frontend by eBGP with BFD, and installs one ECMP route per VIP in
 * the kernel (`merge paths on`: equal routes from several frontends become one
 * multipath route). Pure: the text only.
 */
export interface RouterSettings {
  routerId: string;
  asn: number;
  frontends: { name: string; address: string; asn: number }[];
  bfd: { interval: number; multiplier: number };
}

/** A bird.conf for the ECMP router in front of the frontends. */
export function renderRouterBird(r: RouterSettings): string {
  const lines = [
    "# the router in front of symroute's frontends: eBGP with BFD to each, ECMP into the kernel",
    `router id ${r.routerId};`,
    "",
    "protocol device { scan time 10; }",
    "",
    "protocol kernel {",
    "  ipv4 { import none; export all; };",
    "  merge paths on;    # equal routes from several frontends: one multipath route",
    "}",
    "",
    "protocol bfd {",
    '  interface "*" {',
    `    min rx interval ${r.bfd.interval} ms;`,
    `    min tx interval ${r.bfd.interval} ms;`,
    `    multiplier ${r.bfd.multiplier};`,
    "  };",
    "}",
    "",
    "template bgp frontend {",
    `  local as ${r.asn};`,
    "  bfd on;",
    "  connect delay time 1;",
    "  connect retry time 2;",
    "  error wait time 1, 2;     # a frontend that BFD declared dead may come back within seconds, not after a minute",
    "  ipv4 { import all; export none; };",
    "}",
  ];
  for (const f of r.frontends) lines.push("", `protocol bgp ${f.name} from frontend {`, `  neighbor ${f.address} as ${f.asn};`, "}");
  return lines.join("\n") + "\n";
}
