// Types: each task queue's proxy offers only that queue's activities (checked by `npm run typecheck`:
// an `@ts-expect-error` with no error under it fails it), and at run time the two sets do not overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LlmProxy, PipelineProxy } from '../src/workflows/shared';
import { createLlmQueueActivities, createPipelineActivities } from '../src/activities';

/** Never called: only type-checked. */
export function typeChecks(pipeline: PipelineProxy, llm: LlmProxy): unknown[] {
  return [
    pipeline.savePlaceEnrichment,
    llm.enrichPlace,
    // @ts-expect-error an llm activity is not offered by a pipeline (local) proxy
    pipeline.enrichPlace,
    // @ts-expect-error a pipeline activity is not offered by an llm proxy
    llm.savePlaceEnrichment,
  ];
}

test('the pipeline and llm activity sets are disjoint (a name is served by one queue only)', () => {
  const fake = new Proxy({}, { get: () => fake }) as never;
  const pipeline = Object.keys(
    createPipelineActivities({ ...(fake as object), embedding: fake, batchMode: fake } as never),
  );
  const llm = Object.keys(createLlmQueueActivities({ llm: fake, objects: fake, receipts: fake, runs: fake }));
  assert.ok(pipeline.length > 10 && llm.length > 3);
  assert.deepEqual(
    pipeline.filter((name) => llm.includes(name)),
    [],
  );
});
