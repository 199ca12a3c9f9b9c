import { describe, expect, it } from "vitest";
import { mustFail, mustLoad } from "../helpers/config.js";

const base = `version: 1\nfleet:\n  name: edge\n  etcd:\n`;

describe("fleet config", () => {
  it("takes https endpoints with TLS files, and fills the defaults", () => {
    const c = mustLoad(base + `    endpoints: [https://10.0.0.1:2379, "https://[2001:db8::2]:2379"]\n    tls: { ca: /etc/symroute/ca.pem, cert: /etc/symroute/c.pem, key: /etc/symroute/c.key }\n`).config;
    expect(c.fleet?.etcd.prefix).toBe("/symroute/");
    expect(c.fleet?.config).toBe("local");
    expect(c.fleet?.member).toBeUndefined();
  });

  it("takes plain http to loopback", () => {
    expect(mustLoad(base + `    endpoints: [http://127.0.0.1:2379, "http://[::1]:2379"]\n`).config.fleet?.etcd.endpoints).toHaveLength(2);
  });

  it("refuses plain http to another host, located at the endpoint", () => {
    const errs = mustFail(base + `    endpoints:\n      - http://127.0.0.1:2379\n      - http://10.0.0.2:2379\n`);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^test\.yaml:7:9: fleet\.etcd\.endpoints\[1\]: http:\/\/10\.0\.0\.2:2379 is plain HTTP to another host/);
  });

  it("refuses a URL with a path, a relative credential path, an inline field and a duplicate", () => {
    const errs = mustFail(base + `    endpoints: [https://10.0.0.1:2379/v3]\n    tls: { ca: ca.pem, cert: /c, key: /k }\n  config: everywhere\n`);
    expect(errs.some((e) => /fleet\.etcd\.endpoints\[0\]: must be an etcd client URL/.test(e))).toBe(true);
    expect(errs.some((e) => /fleet\.etcd\.tls\.ca: must be an absolute path/.test(e))).toBe(true);
    expect(errs.some((e) => /fleet\.config: must be one of "local", "shared"/.test(e))).toBe(true);
    const dup = mustFail(base + `    endpoints: [https://10.0.0.1:2379, https://10.0.0.1:2379]\n`);
    expect(dup).toEqual([expect.stringMatching(/fleet\.etcd\.endpoints\[1\]: endpoint https:\/\/10\.0\.0\.1:2379 is listed twice/)]);
  });

  it("refuses a prefix that does not end in a slash and a key given inline", () => {
    const errs = mustFail(base + `    endpoints: [http://127.0.0.1:2379]\n    prefix: /symroute\n    tls: { ca: /a, cert: /b, key: /c, keyPem: "-----BEGIN" }\n`);
    expect(errs.some((e) => /fleet\.etcd\.prefix: must start and end with '\/'/.test(e))).toBe(true);
    expect(errs.some((e) => /unknown field 'keyPem'/.test(e))).toBe(true);
  });
});

describe("fleet member name", () => {
  it("is the config's, else the host name's first label made a valid key segment", async () => {
    const { memberName } = await import("../../src/fleet/settings.js");
    const fleet = mustLoad(base + `    endpoints: [http://127.0.0.1:2379]\n`).config.fleet!;
    expect(memberName(fleet, "fe1.example.net")).toBe("fe1");
    expect(memberName(fleet, "_odd host")).toBe("m_odd-host");
    expect(memberName({ ...fleet, member: "edge-1" }, "fe1")).toBe("edge-1");
  });
});
