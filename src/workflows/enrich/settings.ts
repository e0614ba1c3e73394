// An enrichment run's input, and its settings with every default applied once.
import type { RunProgress } from '../shared';
import { LLM_QUEUE, type RunPriority } from '../shared';

export interface EnrichPlacesInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** Only these places (default: every place). */
  placeIds?: string[];
  /** Places per prefetch (one batched read). @default 10 */
  batchSize?: number;
  /** Batches in flight at once; their LLM calls queue on the `llm` queue's global cap. @default 4 */
  batchesInFlight?: number;
  /** Bypass the LLM cache for this run. @default false */
  noCache?: boolean;
  /** Priority of this run's LLM calls against other runs. @default 'normal' */
  priority?: RunPriority;
  /** Continue as new after this many batches (history stays small for any number of places). @default 200 */
  continueAsNewAfterBatches?: number;
  /** Task queue of the LLM activities. @default 'llm' */
  llmTaskQueue?: string;
  /** Redrive this ended run: only its places that did not succeed (`npm run cli -- redrive`). */
  redriveOf?: string;
  /**
   * `batch`: the places' prompts go first as OpenAI Batch API jobs at half price (their answers fill
   * the cache the places then read; `noCache` sends every prompt to the batch); what they do not
   * answer is called realtime. @default 'realtime'
   */
  mode?: 'realtime' | 'batch';
  /** Set when continuing as new: where the previous run stopped. */
  resume?: EnrichResume;
}

/** Where a run that continued as new resumes. */
export interface EnrichResume {
  /** Runs paging after a cursor: the last place id started (every place up to it has ended). */
  cursor?: { afterPlace?: string };
  /** Runs started before the cursor patch: the next batch of the carried list. */
  nextBatch?: number;
  startedAt: number;
  progress: RunProgress;
}

export type EnrichSettings = Required<Omit<EnrichPlacesInput, 'placeIds' | 'resume' | 'redriveOf' | 'mode'>>;

export function applyEnrichmentDefaults(input: EnrichPlacesInput, workflowId: string): EnrichSettings {
  return {
    runId: input.runId ?? workflowId,
    batchSize: input.batchSize ?? 10,
    batchesInFlight: input.batchesInFlight ?? 4,
    // Batch mode: the places read the answers its batch jobs cached (its prompts skip the cache).
    noCache: input.mode === 'batch' ? false : (input.noCache ?? false),
    priority: input.priority ?? 'normal',
    continueAsNewAfterBatches: input.continueAsNewAfterBatches ?? 200,
    llmTaskQueue: input.llmTaskQueue ?? LLM_QUEUE,
  };
}
