// `llm` queue: one batch of a group's words decided (outlier or not, reason, suggested label) in
// one structured `label_outlier` call; the decisions written to `decisions-<b>.json`.
import { answerJsonSchemaFor, coversExactly, labelOutlierAnswerSchema } from '../../domain/llm-tasks';
import { labelOutlierMessages } from '../../domain/prompts';
import { activityLlmCall } from '../shared/activity-llm-call';
import type { HarmonizationLlmDeps } from './llm-deps';
import { batchKey, decisionsKey, getJson, putJson } from './s3-keys';
import type { DecisionBatchFile, DecisionsFile, GroupRef } from './types';

export function createDecideActivities({ llm, objects }: HarmonizationLlmDeps) {
  return {
    /**
     * Decides one batch of words (outlier or not, reason, suggested label) with one structured
     * call (`label_outlier`); an answer that does not cover exactly the ids sent is repaired, then
     * fails as LlmInvalidAnswer (non-retryable, recorded by the workflow).
     */
    async decideOutliers(
      input: GroupRef & { batchIndex: number; noCache?: boolean },
    ): Promise<{ decided: number; outliers: number }> {
      const batch = await getJson<DecisionBatchFile>(objects, batchKey(input, input.batchIndex));
      const ids = new Set(batch.items.map((i) => i.id));
      const schema = labelOutlierAnswerSchema.refine((a) => coversExactly(a.decisions, ids), {
        message: `decisions must cover exactly the ${ids.size} item ids sent, each once`,
      });
      const value = await activityLlmCall(llm, {
        runId: input.runId,
        task: 'label_outlier',
        messages: labelOutlierMessages(batch.merchantName, batch.label, batch.items),
        schema,
        jsonSchema: answerJsonSchemaFor('label_outlier', [...ids]),
        itemCount: batch.items.length,
        noCache: input.noCache,
        fairnessKey: input.merchantId,
      });
      const keyOf = new Map(batch.items.map((item, i) => [item.id, batch.keys[i]!]));
      const file: DecisionsFile = {
        decisions: value.decisions.map((d) => ({
          id: d.id,
          key: keyOf.get(d.id)!,
          outlier: d.outlier,
          suggestedLabel: d.suggestedLabel,
          reason: d.reason,
        })),
      };
      await putJson(objects, decisionsKey(input, input.batchIndex), file);
      return { decided: file.decisions.length, outliers: file.decisions.filter((d) => d.outlier).length };
    },
  };
}
