// A harmonizer run's input, and the settings every one of its workflows works from (all defaults
// applied once, at the root, and handed to each group).
import {
  DEFAULT_DECISION_BATCH_SIZE,
  DEFAULT_EMBED_BATCH_SIZE,
  DEFAULT_EXACT_NEIGHBOURS_MAX,
  DEFAULT_NEIGHBOUR_CHUNK_SIZE,
  applySkipRuleDefaults,
  type SkipRules,
} from '../../domain/harmonization';
import { LLM_QUEUE, type RunPriority } from '../shared';

export interface HarmonizeWidths {
  /** (merchant, label) groups at once. @default 16 */
  groups: number;
  /** Embedding batches of one group at once. @default 4 */
  embedBatches: number;
  /** Outlier-decision batches of one group at once (the `llm` queue's cap still holds). @default 8 */
  decideBatches: number;
}

export interface HarmonizeLabelsInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** Only these label types (default: all). */
  labelTypes?: string[];
  /** Only these merchants (default: all). */
  merchantIds?: string[];
  /** Words per outlier-decision LLM call. @default 10 */
  batchSize?: number;
  /** Similarity threshold and neighbour counts of the skip rules (domain/harmonization.ts). */
  rules?: Partial<SkipRules>;
  /** Do not read the decision cache nor the LLM cache (fresh answers still refresh both). @default false */
  noCache?: boolean;
  /** Texts per embedding call. @default 256 */
  embedBatchSize?: number;
  /** Words per neighbour-lookup activity (groups above `exactNeighboursMax`). @default 500 */
  neighbourChunkSize?: number;
  /** Groups up to this many words get exact neighbours; larger ones Chroma's index. @default 5000 */
  exactNeighboursMax?: number;
  widths?: Partial<HarmonizeWidths>;
  /** Continue-as-new a group after this many batch activities (tests set it low). @default 400 */
  continueAsNewAfterBatches?: number;
  /** Continue-as-new the root after this many groups. @default 500 */
  continueAsNewAfterGroups?: number;
  /** Priority of this run's LLM calls against other runs. @default 'normal' */
  priority?: RunPriority;
  /** Task queue of the LLM activities. @default 'llm' */
  llmTaskQueue?: string;
  /** Redrive this ended run: only its groups that did not complete (`npm run cli -- redrive`). */
  redriveOf?: string;
}

export type HarmonizeSettings = Required<
  Omit<HarmonizeLabelsInput, 'labelTypes' | 'merchantIds' | 'rules' | 'widths' | 'redriveOf'>
> & { rules: SkipRules; widths: HarmonizeWidths };

export function applyHarmonizeDefaults(input: HarmonizeLabelsInput, workflowId: string): HarmonizeSettings {
  return {
    runId: input.runId ?? workflowId,
    batchSize: input.batchSize ?? DEFAULT_DECISION_BATCH_SIZE,
    rules: applySkipRuleDefaults(input.rules),
    noCache: input.noCache ?? false,
    embedBatchSize: input.embedBatchSize ?? DEFAULT_EMBED_BATCH_SIZE,
    neighbourChunkSize: input.neighbourChunkSize ?? DEFAULT_NEIGHBOUR_CHUNK_SIZE,
    exactNeighboursMax: input.exactNeighboursMax ?? DEFAULT_EXACT_NEIGHBOURS_MAX,
    widths: { groups: 16, embedBatches: 4, decideBatches: 8, ...input.widths },
    continueAsNewAfterBatches: input.continueAsNewAfterBatches ?? 400,
    continueAsNewAfterGroups: input.continueAsNewAfterGroups ?? 500,
    priority: input.priority ?? 'normal',
    llmTaskQueue: input.llmTaskQueue ?? LLM_QUEUE,
  };
}
