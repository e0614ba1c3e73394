// Runs a CLI's main function as the process: its exit code, and a usage or configuration error as one
// `error:` line (exit 2) instead of a stack trace.
import { ConfigError } from '../config';
import { UsageError } from './args';

export function runCommandLine(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2))
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      if (err instanceof UsageError || err instanceof ConfigError) {
        console.error(`error: ${err.message}`);
        process.exit(2);
      }
      console.error(err);
      process.exit(1);
    });
}
