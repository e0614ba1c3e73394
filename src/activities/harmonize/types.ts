// What the harmonizer's activities hand each other: the group they are about, the shapes of the
// group's S3 files, and the counts they return to the workflow.
import type { SkipVerdict } from '../../domain/harmonization';
import type { OutlierPromptItem } from '../../domain/prompts';
import type { ChromaRecord } from '../../stores/chroma';
import type { OutlierDecision } from '../../stores/outlier-decisions';

/** A (label, merchant) group of one run: what every harmonizer activity is about. */
export interface GroupRef {
  runId: string;
  merchantId: string;
  label: string;
}

/** One labelled word as the group's activities hand it on (`words.json`). */
export interface GroupWord extends ChromaRecord {
  text: string;
  /** The outlier flag the word item carries from an earlier run (only changes are written). */
  previousOutlier?: boolean;
}

export interface WordsFile {
  merchantName: string;
  words: GroupWord[];
  /** Ids of the words whose vector is missing or stale in Chroma, in embedding-batch order. */
  toEmbed: string[];
}

export interface NeighbourEntry {
  wordId: string;
  verdict: SkipVerdict | 'missing';
  similar: number;
  nearest: number | null;
  neighbours: OutlierPromptItem['neighbours'];
}

/** How a word got its decision. */
export type DecisionRule = 'consistent' | 'isolated' | 'cached' | 'llm' | 'shared' | 'missing';

export interface PlanFile {
  words: Array<{ wordId: string; rule: DecisionRule; key?: string }>;
  /** Decisions served by the cache, by key. */
  cached: Record<string, OutlierDecision>;
}

export interface DecisionBatchFile {
  merchantName: string;
  label: string;
  items: OutlierPromptItem[];
  /** Decision key of each item, in item order. */
  keys: string[];
}

export interface DecisionsFile {
  decisions: Array<OutlierDecision & { id: string; key: string }>;
}

export interface PreparedGroup {
  words: number;
  toEmbed: number;
  embedBatches: number;
  neighbourChunks: number;
  /** Exact neighbours (all pairs, one chunk) rather than Chroma's approximate index. */
  exactNeighbours: boolean;
  /** Words whose vector was current but whose metadata (e.g. validation status) was updated. */
  metadataUpdated: number;
}

export interface PlanSummary {
  batches: number;
  consistent: number;
  isolated: number;
  cached: number;
  llm: number;
  shared: number;
  missing: number;
}

export interface FailedBatch {
  batchIndex: number;
  reason: string;
}

export type { GroupSummary } from '../../domain/harmonization-summary';
