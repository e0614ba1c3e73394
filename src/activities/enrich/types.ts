// What the place-enrichment activities are built with, hand the workflow and report.
import type { PlaceForPrompt } from '../../domain/place-prompts';
import type { ReceiptStore } from '../../stores/receipts';
import type { RunStore } from '../../stores/runs';
import type { PromptModeReport } from '../batch-mode/report';
import type { RunReportBase } from '../shared/run-report';

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

export interface EnrichmentReport extends RunReportBase<'enrich'>, PromptModeReport {
  placesEnriched: number;
  placesFailed: number;
  /** LLM calls (provider calls, cache hits excluded) per place of the run. */
  llmCallsPerPlace: number;
  promptTokensPerPlace: number;
  /** Against the seeded truth, when known: exact answers per field. */
  accuracy?: { womenOnlyHours: number; amenities: number; judged: number };
}

export interface EnrichPlaceInput {
  runId: string;
  place: PlaceForPrompt;
  noCache?: boolean;
}
