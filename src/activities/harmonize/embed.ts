// `llm` queue: one batch of a group's words embedded in one call, the vectors written as an
// embedding delta (the embedding pipeline's record format) for `upsertWordEmbeddings`.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { deltaToNdjson, type DeltaRecord } from '../../domain/embedding';
import { toActivityFailure } from '../../llm/errors';
import { llmCallIds } from '../shared/llm-call-ids';
import type { HarmonizationLlmDeps } from './llm-deps';
import { embedDeltaKey, getJson, wordsKey } from './s3-keys';
import type { GroupRef, WordsFile } from './types';

export function createEmbedActivities({ llm, objects }: HarmonizationLlmDeps) {
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
  };
}
