// What the place-enrichment activities are built with, hand the workflow and report.
import type { PlaceForPrompt } from '../../domain/place-prompts';
import type { summarizeCalls } from '../../llm/accounting';
import type { ReceiptStore } from '../../stores/receipts';
import type { RunStore } from '../../stores/runs';
import type { BatchModeSummary } from '../batch-mode/report';

export interface EnrichmentDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  truthFile: string;
}

export interface PrefetchedBatch {
  /** Places ready for their LLM call, marked PENDING. */
  places: PlaceForPrompt[];
  /** Places that cannot be enriched (missing, bad records), already recorded FAILED. */
  failed: Array<{ placeId: string; reason: string }>;
}

export interface EnrichmentReport {
  runId: string;
  pipeline: 'enrich';
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  placesEnriched: number;
  placesFailed: number;
  /** LLM calls (provider calls, cache hits excluded) per place of the run. */
  llmCallsPerPlace: number;
  promptTokensPerPlace: number;
  failures: Array<{ itemId: string; reason: string }>;
  /** Against the seeded truth, when known: exact answers per field. */
  accuracy?: { womenOnlyHours: number; amenities: number; judged: number };
  llm: ReturnType<typeof summarizeCalls>;
  makespanMs: number;
  /** How the prompts were sent (reports of older runs lack it: realtime). */
  mode?: 'realtime' | 'batch';
  /** Batch mode: answers and cost of the batch jobs and of the realtime fallback. */
  batch?: BatchModeSummary;
}

export interface EnrichPlaceInput {
  runId: string;
  place: PlaceForPrompt;
  noCache?: boolean;
}
