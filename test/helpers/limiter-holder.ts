// A process that takes permits of a shared limiter and then holds them without renewing, until it
// is killed: `tsx test/helpers/limiter-holder.ts <table> <name> <cap> <leaseMs> <count>`.
// Prints one JSON line with the permits it holds.
import { loadConfig } from '../../src/config';
import { GlobalLimiter } from '../../src/llm/limiter';
import { createDynamoClient } from '../../src/stores/clients';

async function main(): Promise<void> {
  const [table, name, cap, leaseMs, count] = process.argv.slice(2);
  const cfg = loadConfig();
  const limiter = new GlobalLimiter(createDynamoClient(cfg), table!, {
    name,
    cap: Number(cap),
    leaseMs: Number(leaseMs),
    adaptive: false,
  });
  const permits = [];
  for (let i = 0; i < Number(count); i++) permits.push(await limiter.acquire());
  process.stdout.write(`${JSON.stringify({ pid: process.pid, permits })}\n`);
  setInterval(() => undefined, 60_000); // hold on until killed
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
