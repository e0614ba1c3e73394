// Entry of the embedded S3: s3rver on loopback, objects persisted in a directory (`stack up` runs it detached).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  vhostBuckets: boolean;
  allowMismatchedSignatures: boolean;
}) => S3rverInstance;
interface AccountModule {
  registry: Map<string, unknown>;
  DUMMY_ACCOUNT: unknown;
}

// s3rver ships no types; these are the calls we use.
const load = createRequire(__filename);
const S3rver = load('s3rver') as S3rverClass;
const accounts = load('s3rver/lib/models/account') as AccountModule;

// s3rver knows one access key (S3RVER) and rejects others with InvalidAccessKeyId. Like dynalite, the
// embedded S3 accepts any credentials, so application code needs no special keys for the local stack.
const knownAccount = accounts.registry.get.bind(accounts.registry);
accounts.registry.get = (accessKeyId: string) => knownAccount(accessKeyId) ?? accounts.DUMMY_ACCOUNT;

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4568' },
    host: { type: 'string', default: '127.0.0.1' },
    directory: { type: 'string', default: '.data/s3' },
  },
});

const server = new S3rver({
  address: values.host,
  port: Number(values.port),
  directory: values.directory,
  silent: true,
  // Clients use path-style URLs (forcePathStyle) on a loopback endpoint.
  vhostBuckets: false,
  allowMismatchedSignatures: true,
});

server.run().then(
  ({ address, port }) =>
    console.log(`s3rver listening on http://${address}:${port} (data: ${values.directory})`),
  (err: Error) => {
    console.error(`s3rver: ${err.message}`);
    process.exit(1);
  },
);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
    setTimeout(() => process.exit(0), 3_000).unref();
  });
}
