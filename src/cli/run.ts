import { isBulwarkError } from "../core/errors.js";
import { didYouMean } from "../core/options.js";
import { envCommand } from "./env.js";
import { type CliIo, CliUsageError, type Command, EXIT_OK, EXIT_USAGE } from "./io.js";

/** Every `bulwark <command>`; add a line here to add a command. */
export const commands: Readonly<Record<string, Command>> = {
  env: envCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(
    ([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`,
  );
  return `Usage: bulwark <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun "bulwark <command> --help" for a command's options.\n`;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(usage());
    return EXIT_USAGE;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    io.stdout(usage());
    return EXIT_OK;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const hint = didYouMean(name, Object.keys(commands));
    io.stderr(`bulwark: unknown command "${name}"${hint ? ` — did you mean "${hint}"?` : ""}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    const parseError = (error as { code?: unknown }).code;
    if (
      error instanceof CliUsageError ||
      isBulwarkError(error, "ERR_CONFIG_INVALID") ||
      (typeof parseError === "string" && parseError.startsWith("ERR_PARSE_ARGS"))
    ) {
      io.stderr(`bulwark ${name}: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
