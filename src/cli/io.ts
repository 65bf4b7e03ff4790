/** What a command may touch: output streams, the working directory and the environment. Injected for tests. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
}

/** One `bulwark <name>` subcommand. Returns the process exit status. */
export interface Command {
  /** One line for `bulwark --help`. */
  summary: string;
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** A usage or input error: printed without a stack, exit status 2. */
export class CliUsageError extends Error {
  override name = "CliUsageError";
}

export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;
