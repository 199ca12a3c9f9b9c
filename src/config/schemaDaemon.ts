/**
 * The sections of symroute.yaml about `symroute run`: `daemon` (metrics, the
 * reconcile's timing, the API over TCP) and `bgp` (the speaker that announces
 * the VIPs while they can be served).
 */
import { z } from "zod";
import { quote } from "./messages.js";
import { absolutePath, address, boundedDuration, checkDuration, expecting, integer, MAX_DURATION_MS } from "./schemaFields.js";

/** `bgp`: the frontend's BGP speaker (BIRD 2), which announces the VIPs while they can be served (issue 13). */
export const BGP_DEFAULTS = { bfdInterval: "100ms", bfdMultiplier: 3, speaker: "managed", withdrawWait: "2s" } as const;
const asn = integer(1, 4294967295, (input) => `must be an AS number 1-4294967295, got ${String(input)}`);
export const bgpSchema = z.strictObject({
  routerId: address({ family: 4, use: "a router id" }).describe("the speaker's router id, an IPv4 address (usually the frontend's own)"),
  asn: asn.describe("the frontend's AS; every frontend of a service uses the same one"),
  neighbors: z
    .array(
      z.strictObject({
        address: address({ use: "a BGP neighbour" }).describe("the router's address on a directly connected network; an IPv6 neighbour gets the IPv6 VIPs"),
        asn: asn.describe("the router's AS"),
        bfd: z.boolean({ error: expecting("true or false") }).default(true).describe("BFD on the session: the router withdraws a dead frontend within interval x multiplier"),
      }),
    )
    .min(1)
    .max(16),
  bfd: z
    .strictObject({
      interval: checkDuration(10, "").default(BGP_DEFAULTS.bfdInterval).describe("BFD transmit and receive interval"),
      multiplier: integer(2, 255).default(BGP_DEFAULTS.bfdMultiplier).describe("missed BFD packets before the session is down"),
    })
    .default({ interval: BGP_DEFAULTS.bfdInterval, multiplier: BGP_DEFAULTS.bfdMultiplier }),
  speaker: z
    .enum(["managed", "external"])
    .default(BGP_DEFAULTS.speaker)
    .describe("managed: symroute run starts its own BIRD on the file it writes; external: symroute writes an include for your BIRD and runs birdc configure"),
  birdConfig: z.string().regex(/^\/[A-Za-z0-9._\/-]+$/, { error: (i) => `must be an absolute path of letters, digits, '.', '_', '-' and '/'; got ${quote(String(i.input))}` }).optional().describe("the file symroute writes; default under /run/symroute"),
  birdSocket: z.string().regex(/^\/[A-Za-z0-9._\/-]+$/, { error: (i) => `must be an absolute path of letters, digits, '.', '_', '-' and '/'; got ${quote(String(i.input))}` }).optional().describe("BIRD's control socket; default under /run/symroute (external: your BIRD's, e.g. /run/bird/bird.ctl)"),
  withdrawWait: checkDuration(0, "").default(BGP_DEFAULTS.withdrawWait).describe("on stop: the longest wait for the withdrawal to leave before BIRD stops"),
});
export type Bgp = z.output<typeof bgpSchema>;

/** `symroute run`: where metrics are served and how often the whole kernel is compared besides its events. */
export const daemonSchema = z.strictObject({
  metrics: z
    .string()
    .regex(/^(off|[0-9.]+:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5})$/, { error: (i) => `must be "off" or ADDRESS:PORT such as 127.0.0.1:9479 or [::1]:9479; got ${quote(String(i.input))}` })
    .optional(),
  reconcileInterval: boundedDuration(1000, MAX_DURATION_MS).optional().describe("full reconcile besides the kernel's events; 1s to 24h"),
  debounce: boundedDuration(0, 10_000).optional().describe("quiet time after a kernel event before the reconcile; at most 10s"),
  api: z
    .strictObject({
      listen: z
        .string()
        .regex(/^([0-9.]+:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5})$/, { error: (i) => `must be ADDRESS:PORT such as 192.0.2.10:9480 or [2001:db8::10]:9480; got ${quote(String(i.input))}` })
        .describe("address and port of the API over TCP, for targets on other hosts; without tls only a loopback address (127.0.0.0/8, ::1)"),
      tokenFile: absolutePath
        .describe("file (mode 0600 or 0400) of the registrants' bearer tokens: lines NAME TOKEN [BALANCER,BALANCER|*], or one bare token"),
      tls: z
        .strictObject({
          cert: absolutePath.describe("PEM certificate (chain) the API presents"),
          key: absolutePath.describe("PEM private key of the certificate (not readable by others)"),
        })
        .optional()
        .describe("HTTPS for the API; required unless listen is a loopback address"),
    })
    .optional()
    .describe("the API over TCP, off by default; the unix socket is always there"),
});

