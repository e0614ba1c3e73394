// What tests of the step that creates a provider batch need: a provider slow to create one (so two
// attempts overlap), attempts of an activity run side by side, a claim left by a dead attempt, and
// every batch the emulator was asked to create.
import { MockActivityEnvironment } from '@temporalio/testing';
import type { BatchApi } from '../../src/llm/batch-api';

/** The Batch API whose batch creation (embeddings and chat completions) answers `ms` late. */
export function slowToCreate(api: BatchApi, ms: number): BatchApi {
  const slow = Object.create(api) as BatchApi;
  slow.createBatch = async (fileId, endpoint, metadata) => {
    await new Promise((r) => setTimeout(r, ms));
    return api.createBatch(fileId, endpoint, metadata);
  };
  return slow;
}

/** Ids of every batch in the emulator's listing (`GET /v1/batches`, all pages). */
export async function providerBatchIds(emulatorUrl: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const res = await fetch(`${emulatorUrl}/v1/batches?limit=100${after ? `&after=${after}` : ''}`);
    const page = (await res.json()) as { data: Array<{ id: string }>; has_more: boolean };
    ids.push(...page.data.map((b) => b.id));
    if (!page.has_more || page.data.length === 0) return ids;
    after = page.data[page.data.length - 1]!.id;
  }
}

/** Runs an activity as attempt `attempt`, in a mock activity context of its own. */
export function runAsAttempt<I, O>(
  attempt: number,
  activity: (input: I) => Promise<O>,
  input: I,
): Promise<O> {
  return new MockActivityEnvironment({ attempt, heartbeatTimeoutMs: 3000 }).run(activity, input);
}

/** A CREATING claim of an attempt that died: its lease lapsed a moment ago. */
export function lapsedCreationClaim() {
  return { state: 'CREATING' as const, creatingBy: 'dead-attempt', creatingUntil: Date.now() - 1 };
}
