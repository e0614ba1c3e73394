// The development CLI, `npm run cli -- <command>`: the embedded stack, the LLM provider emulator and
// seeding, then every product command of src/client.ts (which the worker image runs without dev/).
import { PRODUCT_COMMANDS_HELP, main as productMain } from '../src/client';
import { runCommandLine } from '../src/cli/run-command-line';
import { runEmulatorCommand } from './emulator/cli';
import { runSeedCommand } from './seed';
import { runStackCommand } from './stack/cli';

const DEV_COMMANDS_HELP = `  stack up [--fresh] | down | status [--json]   the embedded stack (Temporal + UI, Chroma, dynalite, s3rver, emulator)
  emulator [flags]                              run the LLM provider emulator in the foreground (--help for flags)
  seed --merchants N --receipts N --seed S [--error-rate p] | --from-file F [--format native|layoutlm|dynamo-export]   write a dataset
  seed --places N [--seed S] [--quality-truth F]   write places with reviews (enrichment); merge quality truth
`;

const HELP = `Usage: npm run cli -- <command> [flags]\n\n${DEV_COMMANDS_HELP}${PRODUCT_COMMANDS_HELP}`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Each development command parses its own flags.
  switch (command) {
    case 'stack':
      return runStackCommand(rest);
    case 'emulator':
      await runEmulatorCommand(rest);
      return typeof process.exitCode === 'number' ? process.exitCode : 0;
    case 'seed':
      return runSeedCommand(rest);
    default:
      return productMain(argv, HELP);
  }
}

if (require.main === module) runCommandLine(main);
