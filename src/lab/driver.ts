/**
 * A long-lived client a lab story drives: a node script in one of the lab's
 * namespaces that takes commands on its stdin, one a line, and answers each
 * `status` with one line of JSON.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Lab } from "./lab.js";

/** The running script; `S` is the shape of its status line. */
export class ScriptDriver<S> {
  private readonly proc: ChildProcess;
  private out = "";
  private readonly waiters: ((s: S) => void)[] = [];

  constructor(lab: Lab, host: string, script: string, args: string[]) {
    this.proc = spawn("ip", ["netns", "exec", lab.ns(host), process.execPath, "-e", script, ...args], { stdio: ["pipe", "pipe", "ignore"] });
    this.proc.stdout!.on("data", (d: Buffer) => {
      this.out += d.toString();
      let i: number;
      while ((i = this.out.indexOf("\n")) >= 0) {
        const line = this.out.slice(0, i);
        this.out = this.out.slice(i + 1);
        this.waiters.shift()?.(JSON.parse(line) as S);
      }
    });
  }

  send(cmd: string): void {
    this.proc.stdin!.write(cmd + "\n");
  }

  status(): Promise<S> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.send("status");
    });
  }

  stop(): void {
    if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
  }
}
