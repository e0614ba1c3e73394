// After each embedding batch: its vectors (an embedding delta in S3) upserted into Chroma.
import { ApplicationFailure } from '@temporalio/activity';
import { parseDeltaNdjson } from '../../domain/embedding';
import { heartbeating } from '../shared/heartbeating';
import type { HarmonizationDeps } from './deps';
import { embedDeltaKey } from './s3-keys';
import type { GroupRef } from './types';

export function createEmbedUpsertActivities({ chroma, objects }: HarmonizationDeps) {
  return {
    /** Applies one embedding delta (written by `embedWords`) to Chroma: an idempotent upsert. */
    async upsertWordEmbeddings(input: GroupRef & { batchIndex: number }): Promise<{ upserted: number }> {
      return heartbeating(async () => {
        const text = await objects.getText(embedDeltaKey(input, input.batchIndex));
        if (text === undefined)
          throw ApplicationFailure.nonRetryable(
            `Embedding delta ${embedDeltaKey(input, input.batchIndex)} is missing`,
            'HarmonizeArtifactMissing',
          );
        const records = parseDeltaNdjson(text);
        await chroma.upsert('WORD', records);
        return { upserted: records.length };
      });
    },
  };
}
