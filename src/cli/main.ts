/**
 * The symroute command line: thin commands over config, compile, plan, apply
 * and lab. Errors become messages and exit codes here, nowhere else.
 */
import { Command, CommanderError } from "commander";
import { z } from "zod";
import { configSchema } from "../config/schema.js";
import { CliError, EXIT } from "./common.js";
import { registerReadCommands } from "./commands/plan.js";
import { registerWriteCommands } from "./commands/apply.js";
import { registerLabCommand } from "./commands/lab.js";
import { registerMaglevCommand } from "./commands/maglev.js";
import { registerLbCommand } from "./commands/lb.js";
import { registerTraceCommand } from "./commands/trace.js";
import { registerDoctorCommand } from "./commands/doctor.js";
import { registerRunCommands } from "./commands/run.js";
import { registerFleetCommands } from "./commands/fleet.js";

/** Builds the program (tests call it without exiting the process). */
export function buildProgram(): Command {
  const program = new Command();
  program.name("symroute").description("Policy routing for multi-homed Linux hosts, from one YAML file").version("0.1.0");
  program.exitOverride();
  registerReadCommands(program);
  registerWriteCommands(program);
  registerLabCommand(program);
  registerMaglevCommand(program);
  registerLbCommand(program);
  registerTraceCommand(program);
  registerDoctorCommand(program);
  registerRunCommands(program);
  registerFleetCommands(program);
  program
    .command("schema")
    .description("JSON Schema of the config file, for editors")
    .action(() => {
      process.stdout.write(JSON.stringify(z.toJSONSchema(configSchema, { io: "input" }), null, 2) + "\n");
    });
  return program;
}

/** Runs the command line and sets the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    if (e instanceof CliError) {
      process.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`symroute: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.invalid;
  }
}
