/**
 * The `fleet` section of symroute.yaml (issue 20), apart from the config's
 * shape so that the schema file stays small: frontends that share
 * registrations, drains, leases and the config through etcd.
 */
import { z } from "zod";
import { quote } from "./messages.js";
import { absolutePath, name } from "./schemaFields.js";

/** Where the fleet's store lives: etcd client URLs. */
const etcdEndpoint = z
  .string()
  .regex(/^https?:\/\/([0-9.]+|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, {
    error: (i) => `must be an etcd client URL such as https://10.0.0.1:2379 (http or https, host and port, no path); got ${quote(String(i.input))}`,
  });

/**
 * `fleet`: frontends that share registrations, drains, leases and the config
 * through etcd, so that every member builds the same Maglev table (issue 20).
 * Credentials are named by file path, never given inline: the config is read
 * by more people than the key should be.
 */
export const fleetSchema = z.strictObject({
  name: name.describe("the fleet's name: members of one fleet share one store prefix and build the same tables"),
  member: name.optional().describe("this frontend's name in the fleet; default: the host name"),
  etcd: z
    .strictObject({
      endpoints: z.array(etcdEndpoint).min(1).max(16).describe("etcd client URLs, tried in turn: https://10.0.0.1:2379"),
      prefix: z
        .string()
        .regex(/^\/[A-Za-z0-9._\/-]*\/$/, { error: (i) => `must start and end with '/' and hold only letters, digits, '.', '_', '-' and '/'; got ${quote(String(i.input))}` })
        .max(128)
        .default("/symroute/")
        .describe("every key of the fleet lives under PREFIX + fleet name"),
      tls: z
        .strictObject({
          ca: absolutePath.describe("PEM CA that signed the etcd members' certificates"),
          cert: absolutePath.describe("PEM client certificate this member presents"),
          key: absolutePath.describe("PEM private key of the client certificate (not readable by others)"),
        })
        .optional()
        .describe("TLS to etcd; required unless every endpoint is a loopback address"),
    })
    .describe("the etcd cluster (v3 API) that holds the fleet's state"),
  config: z
    .enum(["local", "shared"])
    .default("local")
    .describe("local: each member runs its own file; shared: members follow the latest revision pushed with symroute fleet push"),
});
export type Fleet = z.output<typeof fleetSchema>;
