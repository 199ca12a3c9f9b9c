/**
 * Issue 17, pure: the API's token file (named registrants, each allowed some
 * balancers; a bare token still works), the bearer header read
 * case-insensitively into a Caller, failed logins logged rate-limited, and
 * `daemon.api` on a network address refused without TLS.
 */
import { describe, expect, it } from "vitest";
import type { IncomingMessage } from "node:http";
import { parseTokenFile, TokenFileError } from "../../src/daemon/tokens.js";
import { authenticate, AuthFailureLog, tokenSet, type AuthFailure } from "../../src/daemon/auth.js";
import { isLoopbackListen } from "../../src/config/semanticDaemon.js";
import { mustFail, mustLoad } from "../helpers/config.js";

const A = "alpha-token-0123456789";
const B = "bravo-token-0123456789";

function problems(text: string): string[] {
  try {
    parseTokenFile(text, "/etc/symroute/api.token");
  } catch (e) {
    if (e instanceof TokenFileError) return e.problems;
    throw e;
  }
  throw new Error("token file was accepted");
}

describe("the token file", () => {
  it("a bare token (the format before names) is `default`, allowed everywhere", () => {
    expect(parseTokenFile(`${A}\n`, "f")).toEqual([{ name: "default", token: A, balancers: "*" }]);
    expect(parseTokenFile(`# the old file, with a comment\n\n  ${A}  \n`, "f")).toEqual([{ name: "default", token: A, balancers: "*" }]);
  });

  it("named tokens with their balancers; no list means every balancer", () => {
    const text = `# registrants\nalpha ${A} stream-a,stream-b\r\nbravo\t${B}   *\n\ncharlie charlie-token-0123456789\n`;
    expect(parseTokenFile(text, "f")).toEqual([
      { name: "alpha", token: A, balancers: ["stream-a", "stream-b"] },
      { name: "bravo", token: B, balancers: "*" },
      { name: "charlie", token: "charlie-token-0123456789", balancers: "*" },
    ]);
  });

  it("an empty file or a file of comments holds no token", () => {
    expect(problems("")).toEqual(["/etc/symroute/api.token: holds no token"]);
    expect(problems("# nothing yet\n\n")).toEqual(["/etc/symroute/api.token: holds no token"]);
  });

  it("a short bare token is refused with its line, and without the token", () => {
    expect(problems("\nshort-token\n")).toEqual(["/etc/symroute/api.token:2: the token has 11 characters; a token needs at least 16"]);
  });

  it("every bad line at once, each with its line: fields, names, short and shared tokens, balancer lists", () => {
    const text = [
      `alpha ${A} stream-a`, // 1 ok
      `${B}`, // 2 bare token among named ones
      `alpha other-token-0123456789`, // 3 name twice
      `bravo tooshort`, // 4 short token
      `charlie ${A}`, // 5 same token as line 1
      `delta delta-token-0123456789 a,*`, // 6 star in a list
      `echo echo-token-0123456789 a,,b`, // 7 empty name in the list
      `foxtrot foxtrot-token-0123456789 a,a`, // 8 listed twice
      `golf golf-token-0123456789 a b`, // 9 four fields
      `h;rm foxtrot2-token-0123456789`, // 10 a name with a shell character
      `india india-token-012345678\u00e9`, // 11 not ASCII
    ].join("\n");
    const p = problems(text);
    expect(p).toEqual([
      "/etc/symroute/api.token:2: expected NAME TOKEN [BALANCER,BALANCER|*], got 1 field (a bare token is only allowed as the file's only line)",
      "/etc/symroute/api.token:3: name 'alpha' is already used on line 1",
      "/etc/symroute/api.token:4: bravo: the token has 8 characters; a token needs at least 16",
      "/etc/symroute/api.token:5: charlie: the same token as line 1; each registrant needs its own",
      "/etc/symroute/api.token:6: delta: balancers must be '*' or names separated by commas (no spaces), got 'a,*'",
      "/etc/symroute/api.token:7: echo: balancers must be '*' or names separated by commas (no spaces), got 'a,,b'",
      "/etc/symroute/api.token:8: foxtrot: balancer 'a' is listed twice",
      "/etc/symroute/api.token:9: expected NAME TOKEN [BALANCER,BALANCER|*], got 4 fields (a bare token is only allowed as the file's only line)",
      "/etc/symroute/api.token:10: name 'h;rm' must be letters, digits, '_', '.' or '-' (at most 63)",
      "/etc/symroute/api.token:11: india: the token must be visible ASCII characters (it is sent in an HTTP header)",
    ]);
    // errors reach logs and API answers: no token in them
    for (const secret of [A, B, "tooshort", "other-token-0123456789"]) expect(p.join("\n")).not.toContain(secret);
  });
});

const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

describe("authentication into a Caller", () => {
  const set = tokenSet(parseTokenFile(`alpha ${A} stream-a\nbravo ${B}\n`, "f"));

  it("the scheme in any case, the token compared with every registrant's", () => {
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) expect(authenticate(req(`${scheme} ${A}`), set)).toEqual({ caller: { kind: "token", name: "alpha", balancers: ["stream-a"] } });
    expect(authenticate(req(`Bearer  ${B} `), set)).toEqual({ caller: { kind: "token", name: "bravo", balancers: "*" } });
  });

  it("missing, malformed and unknown tokens are told apart", () => {
    expect(authenticate(req(), set)).toEqual({ failure: "missing" });
    expect(authenticate(req(""), set)).toEqual({ failure: "missing" });
    expect(authenticate(req(`Basic ${Buffer.from("a:b").toString("base64")}`), set)).toEqual({ failure: "malformed" });
    expect(authenticate(req(`Bearer ${A} extra`), set)).toEqual({ failure: "malformed" });
    expect(authenticate(req("Bearer"), set)).toEqual({ failure: "malformed" });
    expect(authenticate(req(`Bearer ${A}x`), set)).toEqual({ failure: "unknown-token" });
    expect(authenticate(req(`Bearer ${A.slice(0, -1)}`), set)).toEqual({ failure: "unknown-token" });
  });

  it("failures: each counted, at most one log line per 10 s, then the left-out count", () => {
    let now = 0;
    const lines: Record<string, unknown>[] = [];
    const counted: AuthFailure[] = [];
    const log = new AuthFailureLog({ log: (f) => lines.push(f), count: (r) => counted.push(r) }, 10_000, () => now);
    log.record("unknown-token", "192.0.2.7");
    for (let i = 0; i < 50; i++) {
      now += 100;
      log.record(i % 2 ? "missing" : "unknown-token", "192.0.2.7");
    }
    expect(counted.length).toBe(51);
    expect(lines).toEqual([{ msg: "API authentication failed", reason: "unknown-token", remote: "192.0.2.7" }]);
    now = 10_001;
    log.record("malformed", "192.0.2.8");
    expect(lines[1]).toEqual({ msg: "API authentication failed", reason: "malformed", remote: "192.0.2.8", suppressed: 50, suppressedByReason: { missing: 25, malformed: 0, "unknown-token": 25 } });
    now = 10_500;
    log.record("missing", undefined);
    log.flush();
    expect(lines[2]).toEqual({ msg: "API authentication failed", suppressed: 1, suppressedByReason: { missing: 1, malformed: 0, "unknown-token": 0 } });
    log.flush();
    expect(lines.length).toBe(3);
  });
});

describe("daemon.api on a network needs TLS", () => {
  const cfg = (api: string) => `version: 1\ndaemon:\n  api: ${api}\n`;

  it("loopback addresses", () => {
    for (const l of ["127.0.0.1:9480", "127.3.2.1:1", "[::1]:9480", "[::ffff:127.0.0.1]:9480"]) expect(isLoopbackListen(l), l).toBe(true);
    for (const l of ["0.0.0.0:9480", "192.0.2.10:9480", "[::]:9480", "[2001:db8::1]:9480", "128.0.0.1:9480", "[::2]:9480"]) expect(isLoopbackListen(l), l).toBe(false);
  });

  it("plain HTTP on loopback, anything with tls; a network address without tls is a located error", () => {
    expect(mustLoad(cfg(`{ listen: "127.0.0.1:9480", tokenFile: /etc/symroute/api.token }`)).config.daemon?.api?.tls).toBeUndefined();
    expect(mustLoad(cfg(`{ listen: "192.0.2.10:9480", tokenFile: /t, tls: { cert: /c.pem, key: /k.pem } }`)).config.daemon?.api?.tls).toEqual({ cert: "/c.pem", key: "/k.pem" });
    expect(mustFail(cfg(`{ listen: "0.0.0.0:9480", tokenFile: /t }`))).toEqual([
      "test.yaml:3:18: daemon.api.listen: 0.0.0.0:9480 is not a loopback address: the API on a network needs daemon.api.tls (cert and key), or listen on 127.0.0.1 or [::1]",
    ]);
    expect(mustFail(cfg(`{ listen: "[::1]:9480", tokenFile: /t, tls: { cert: c.pem } }`)).sort()).toEqual([
      'test.yaml:3:52: daemon.api.tls.key: required field is missing (expected a string)',
      'test.yaml:3:60: daemon.api.tls.cert: must be an absolute path; got "c.pem"',
    ]);
  });
});
