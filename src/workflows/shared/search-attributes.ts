// The search attributes every run's workflows carry (the Web UI and `runs` filter by them).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { upsertSearchAttributes } from '@temporalio/workflow';

export const RunIdKey = defineSearchAttributeKey('PipelineRunId', SearchAttributeType.KEYWORD);
export const PipelineKey = defineSearchAttributeKey('Pipeline', SearchAttributeType.KEYWORD);
export const MerchantKey = defineSearchAttributeKey('Merchant', SearchAttributeType.KEYWORD);
export const RunStatusKey = defineSearchAttributeKey('RunStatus', SearchAttributeType.KEYWORD);

export type PipelineName = 'evaluate' | 'harmonize' | 'embed' | 'enrich' | 'analyze';

/** A root run starts: its run id, pipeline and RUNNING, in one upsert (one history command). */
export function markRunRunning(runId: string, pipeline: PipelineName): void {
  upsertSearchAttributes([
    { key: RunIdKey, value: runId },
    { key: PipelineKey, value: pipeline },
    { key: RunStatusKey, value: 'RUNNING' },
  ]);
}

/** A root run ends well. */
export function markRunCompleted(): void {
  upsertSearchAttributes([{ key: RunStatusKey, value: 'COMPLETED' }]);
}
