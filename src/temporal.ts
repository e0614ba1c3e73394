// Temporal connections through @temporalio/envconfig, so Temporal Cloud, TLS and API keys work
// from the standard TEMPORAL_* variables or config file; the embedded dev server is the default.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import type { AppConfig } from './config';

function connectConfig(cfg: AppConfig, env: NodeJS.ProcessEnv = process.env) {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) vars[k] = v;
  vars.TEMPORAL_ADDRESS = cfg.temporalAddress;
  vars.TEMPORAL_NAMESPACE = cfg.TEMPORAL_NAMESPACE;
  const c = loadClientConnectConfig({ overrideEnvVars: vars });
  return { connectionOptions: c.connectionOptions, namespace: c.namespace ?? cfg.TEMPORAL_NAMESPACE };
}

export async function connectClient(cfg: AppConfig): Promise<Client> {
  const { connectionOptions, namespace } = connectConfig(cfg);
  const connection = await Connection.connect(connectionOptions as Parameters<typeof Connection.connect>[0]);
  return new Client({ connection, namespace });
}

export async function connectWorker(
  cfg: AppConfig,
): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = connectConfig(cfg);
  return { connection: await NativeConnection.connect(connectionOptions), namespace };
}
