// Entry of the embedded DynamoDB: dynalite (with TransactWriteItems) on loopback, in a LevelDB dir (`stack up` runs it detached).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import type http from 'node:http';
import { dynaliteWithTransactions } from './dynalite-transactions';

type DynaliteFactory = (options: {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => http.Server;

// dynalite ships no types; this is the one call we use.
const dynalite = createRequire(__filename)('dynalite') as DynaliteFactory;

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4567' },
    host: { type: 'string', default: '127.0.0.1' },
    path: { type: 'string' },
  },
});

// Tables become ACTIVE at once: callers still wait for ACTIVE, tests do not sit through 500 ms each.
// TransactWriteItems (which dynalite lacks) is answered beside it: the review write-back uses it.
const server = dynaliteWithTransactions(dynalite, {
  path: values.path,
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});

server.on('error', (err) => {
  console.error(`dynalite: ${err.message}`);
  process.exit(1);
});

server.listen(Number(values.port), values.host, () => {
  console.log(
    `dynalite listening on http://${values.host}:${values.port} (data: ${values.path ?? 'in memory'})`,
  );
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // close() also closes the LevelDB store, so nothing is lost on `stack down`.
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  });
}
