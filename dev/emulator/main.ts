// Entry point of the LLM provider emulator process (`tsx dev/emulator/main.ts [flags]`).
import { runEmulatorCommand } from './cli';

runEmulatorCommand(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
