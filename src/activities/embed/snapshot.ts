// exportEmbeddingSnapshot: both Chroma collections to S3 `snapshots/<stamp>/`, with a manifest.
import { Context } from '@temporalio/activity';
import { EMBED_KINDS, deltaToNdjson } from '../../domain/embedding';
import { s3KeyOf } from './batch-files';
import type { EmbeddingDeps } from './deps';

/** Records per snapshot part file. */
const SNAPSHOT_PAGE = 5_000;

export function createSnapshotActivities({ objects, vectors, s3Prefix }: EmbeddingDeps) {
  return {
    /** Exports both collections to S3 `snapshots/<stamp>/` and points `snapshots/latest.json` at it. */
    async exportEmbeddingSnapshot(input: { stamp: string }): Promise<{ prefix: string; records: number }> {
      const ctx = Context.current();
      const prefix = s3KeyOf(s3Prefix, 'snapshots', `${input.stamp}/`);
      const files: Array<{ key: string; collection: string; records: number }> = [];
      let total = 0;
      for (const kind of EMBED_KINDS) {
        const collection = vectors.collectionName(kind);
        for (let part = 0; ; part++) {
          const page = await vectors.page(kind, part * SNAPSHOT_PAGE, SNAPSHOT_PAGE);
          if (page.length === 0) break;
          const key = `${prefix}${collection}-${String(part).padStart(5, '0')}.ndjson`;
          await objects.putText(key, deltaToNdjson(page));
          files.push({ key, collection, records: page.length });
          total += page.length;
          ctx.heartbeat({ kind, part });
          if (page.length < SNAPSHOT_PAGE) break;
        }
      }
      const manifest = JSON.stringify({ stamp: input.stamp, records: total, files }, null, 2);
      await objects.putText(`${prefix}manifest.json`, manifest, 'application/json');
      await objects.putText(s3KeyOf(s3Prefix, 'snapshots', 'latest.json'), manifest, 'application/json');
      return { prefix, records: total };
    },
  };
}
