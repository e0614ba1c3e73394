// The label evaluation's input, its defaults, and the settings every workflow of a run receives.
import { LLM_QUEUE, type RunPriority } from '../shared';

export interface FanOutWidths {
  /** Merchants evaluated at once. @default 6 (3 in runs started before `WIDER_FAN_OUT_PATCH`) */
  merchants: number;
  /** Batches of one merchant at once. @default 10 */
  batches: number;
  /** Receipts of one batch at once. @default 10 (5 in runs started before `WIDER_FAN_OUT_PATCH`) */
  receipts: number;
}

/**
 * The default widths keep the `llm` queue fed: every call waiting for a permit is one the provider
 * gets the moment a slot frees, while a merchant or batch starting or ending feeds none. At 3 x 5,
 * short calls (a provider serving 4 at 200 ms, 240 receipts over 12 merchants) left the provider
 * idle between merchants: efficiency 0.82 where 6 x 10 reached 0.86 (docs/BENCHMARKS.md).
 */
export const DEFAULT_WIDTHS: FanOutWidths = { merchants: 6, batches: 10, receipts: 10 };
/** The widths of runs started before `WIDER_FAN_OUT_PATCH` (their histories replay with them). */
export const LEGACY_WIDTHS: FanOutWidths = { merchants: 3, batches: 10, receipts: 5 };
export const WIDER_FAN_OUT_PATCH = 'evaluate-wider-fan-out';

export interface EvaluateLabelsInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** Only these merchants (default: all). */
  merchantIds?: string[];
  /** Receipts per batch child. @default 10 */
  batchSize?: number;
  /** Rules only, no LLM review (orchestration benchmark). @default false */
  skipLlmReview?: boolean;
  /** Bypass the LLM cache for this run. @default false */
  noCache?: boolean;
  /** Review again the labels an earlier LLM review already decided. @default false */
  revalidate?: boolean;
  widths?: Partial<FanOutWidths>;
  /** Issues per LLM call. @default 20 */
  reviewChunkSize?: number;
  /** Priority of this run's LLM calls against other runs. @default 'normal' */
  priority?: RunPriority;
  /** Continue-as-new a merchant workflow after this many batches (tests set it low). @default 500 */
  continueAsNewAfterBatches?: number;
  /**
   * Continue-as-new the root after this many merchants (tests set it low); it also does when
   * Temporal suggests it. @default 1000
   */
  continueAsNewAfterMerchants?: number;
  /**
   * Least time between two progress signals of one merchant to the root (workflow time): batch
   * results in between are added up and sent together. @default 2000
   */
  progressEveryMs?: number;
  /** Task queue of the LLM activities. @default 'llm' */
  llmTaskQueue?: string;
  /**
   * The seed's write-back: a label reviewed INVALID with a suggested label is replaced by it (VALID,
   * proposed by the reviewer; the old one kept as a past label). false: only the status is written
   * (the labels stay as they were, so a later --revalidate asks exactly the same questions).
   * @default true
   */
  applySuggestedLabels?: boolean;
  /** Redrive this ended run: only its receipts that did not succeed (`npm run cli -- redrive`). */
  redriveOf?: string;
  /**
   * `batch`: the review prompts go first as OpenAI Batch API jobs at half price (their answers fill
   * the cache the receipts' reviews then read; `noCache` sends every prompt to the batch);
   * what they do not answer is called realtime. @default 'realtime'
   */
  mode?: 'realtime' | 'batch';
}

type NewFields = 'continueAsNewAfterMerchants' | 'progressEveryMs' | 'applySuggestedLabels' | 'mode';

/**
 * What every workflow of a run gets. The fields added later are optional: settings recorded in the
 * histories of older runs lack them.
 */
export type Settings = Required<
  Omit<EvaluateLabelsInput, 'merchantIds' | 'widths' | 'redriveOf' | NewFields>
> &
  Partial<Pick<EvaluateLabelsInput, NewFields>> & { widths: FanOutWidths };

export function applyEvaluationDefaults(
  input: EvaluateLabelsInput,
  workflowId: string,
  defaultWidths: FanOutWidths = LEGACY_WIDTHS,
): Settings {
  return {
    runId: input.runId ?? workflowId,
    batchSize: input.batchSize ?? 10,
    skipLlmReview: input.skipLlmReview ?? false,
    // Batch mode: the receipts read the answers its batch jobs cached (its prompts skip the cache).
    noCache: input.mode === 'batch' ? false : (input.noCache ?? false),
    revalidate: input.revalidate ?? false,
    widths: { ...defaultWidths, ...input.widths },
    reviewChunkSize: input.reviewChunkSize ?? 20,
    priority: input.priority ?? 'normal',
    continueAsNewAfterBatches: input.continueAsNewAfterBatches ?? 500,
    llmTaskQueue: input.llmTaskQueue ?? LLM_QUEUE,
    ...(input.continueAsNewAfterMerchants !== undefined
      ? { continueAsNewAfterMerchants: input.continueAsNewAfterMerchants }
      : {}),
    ...(input.progressEveryMs !== undefined ? { progressEveryMs: input.progressEveryMs } : {}),
    applySuggestedLabels: input.applySuggestedLabels ?? true,
    ...(input.mode === 'batch' ? { mode: input.mode } : {}),
  };
}

/** @default 1000 */
export const DEFAULT_CONTINUE_AS_NEW_AFTER_MERCHANTS = 1000;
/** @default 2000 */
export const DEFAULT_PROGRESS_EVERY_MS = 2000;
