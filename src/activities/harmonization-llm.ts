// `llm`-queue activities of the label harmonizer: embedding a batch of words and deciding a batch
// of words, each one call through the shared LlmClient. Inputs and outputs go through the group's
// S3 files, so neither vectors nor word lists enter workflow history.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { deltaToNdjson, type DeltaRecord } from '../domain/embedding';
import { answerJsonSchemaFor, coversExactly, labelOutlierAnswerSchema } from '../domain/llm-tasks';
import { labelOutlierMessages } from '../domain/prompts';
import { toActivityFailure } from '../llm/errors';
import type { LlmClient } from '../llm/llm-client';
import type { ObjectStore } from '../stores/s3';
import {
  batchKey,
  decisionsKey,
  embedDeltaKey,
  getJson,
  putJson,
  wordsKey,
  type DecisionBatchFile,
  type DecisionsFile,
  type GroupRef,
  type WordsFile,
} from './harmonization';
import { llmCallIds } from './llm-call-ids';

export interface HarmonizationLlmDeps {
  llm: LlmClient;
  objects: ObjectStore;
}

export function createHarmonizationLlmActivities({ llm, objects }: HarmonizationLlmDeps) {
  return {
    /**
     * Embeds one batch of the group's words to (re)embed, in one call, and writes the vectors as an
     * embedding delta (the embedding pipeline's record format) for `upsertWordEmbeddings`.
     */
    async embedWords(
      input: GroupRef & { batchIndex: number; batchSize: number },
    ): Promise<{ embedded: number }> {
      const ctx = Context.current();
      const file = await getJson<WordsFile>(objects, wordsKey(input));
      const ids = file.toEmbed.slice(
        input.batchIndex * input.batchSize,
        (input.batchIndex + 1) * input.batchSize,
      );
      const byId = new Map(file.words.map((w) => [w.id, w]));
      const batch = ids.map((id) => byId.get(id)!).filter(Boolean);
      let vectors: number[][];
      try {
        vectors = await llm.embed({
          runId: input.runId,
          ...llmCallIds(),
          texts: batch.map((w) => w.document),
          signal: ctx.cancellationSignal,
          heartbeat: () => ctx.heartbeat(),
        });
      } catch (err) {
        throw toActivityFailure(err, ctx.info.attempt);
      }
      if (vectors.length !== batch.length || vectors.some((v) => !Array.isArray(v) || v.length === 0))
        throw ApplicationFailure.nonRetryable(
          `Embedding answer has ${vectors.length} vectors for ${batch.length} texts`,
          'LlmInvalidAnswer',
        );
      const records: DeltaRecord[] = batch.map((w, i) => ({
        kind: 'WORD',
        id: w.id,
        vector: vectors[i]!,
        document: w.document,
        metadata: w.metadata,
      }));
      await objects.putText(embedDeltaKey(input, input.batchIndex), deltaToNdjson(records));
      return { embedded: records.length };
    },

    /**
     * Decides one batch of words (outlier or not, reason, suggested label) with one structured
     * call (`label_outlier`); an answer that does not cover exactly the ids sent is repaired, then
     * fails as LlmInvalidAnswer (non-retryable, recorded by the workflow).
     */
    async decideOutliers(
      input: GroupRef & { batchIndex: number; noCache?: boolean },
    ): Promise<{ decided: number; outliers: number }> {
      const ctx = Context.current();
      const batch = await getJson<DecisionBatchFile>(objects, batchKey(input, input.batchIndex));
      const ids = new Set(batch.items.map((i) => i.id));
      const schema = labelOutlierAnswerSchema.refine((a) => coversExactly(a.decisions, ids), {
        message: `decisions must cover exactly the ${ids.size} item ids sent, each once`,
      });
      let value;
      try {
        ({ value } = await llm.structured({
          runId: input.runId,
          ...llmCallIds(),
          task: 'label_outlier',
          messages: labelOutlierMessages(batch.merchantName, batch.label, batch.items),
          schema,
          jsonSchema: answerJsonSchemaFor('label_outlier', [...ids]),
          itemCount: batch.items.length,
          noCache: input.noCache,
          fairnessKey: input.merchantId,
          signal: ctx.cancellationSignal,
          heartbeat: () => ctx.heartbeat(),
        }));
      } catch (err) {
        throw toActivityFailure(err, ctx.info.attempt);
      }
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
