// Redrive of an embedding run: a new run over exactly the items the old one left undone, by kind:
// those that FAILED on its batches (given a new start), those PENDING on its batches (in flight when
// it stopped: settled later by their pollers, or released back), and those still NOT_EMBEDDED
// (never reached). The plan is stored under the new run's id; the new run cuts its batches from it.
import { EMBED_KINDS, type EmbedKind } from '../../domain/embedding';
import { mapLimit } from '../../domain/chunk';
import type { EmbeddableItem, EmbeddingStore } from '../../stores/embeddings';
import type { RunStore } from '../../stores/runs';
import { redrivableRun, type RedrivePlanSummary } from '../redrive';
import { heartbeating } from '../shared/heartbeating';
import { ITEM_UPDATE_CONCURRENCY, type EmbeddingDeps } from './deps';

/** Planned ids looked up at once when a batch is cut from a plan. */
const PLAN_READ_SLICE = 500;

function kindsOf(params: Record<string, unknown> | undefined): EmbedKind[] {
  const asked = params?.kinds as EmbedKind[] | undefined;
  return asked?.length ? asked : [...EMBED_KINDS];
}

/** Up to `limit` items of a redrive's plan of `kind` that are NOT_EMBEDDED now, in plan order. */
export async function plannedCandidates(
  { embeddings, runs }: { embeddings: EmbeddingStore; runs: RunStore },
  runId: string,
  kind: EmbedKind,
  limit: number,
): Promise<EmbeddableItem[]> {
  const planned = (await runs.getRedrivePlan(runId, kind)).get(kind) ?? [];
  const out: EmbeddableItem[] = [];
  for (let i = 0; i < planned.length && out.length < limit; i += PLAN_READ_SLICE) {
    const ids = planned.slice(i, i + PLAN_READ_SLICE);
    const found = await embeddings.getItems(kind, ids);
    for (const id of ids) {
      const item = found.get(id);
      if (item?.status === 'NOT_EMBEDDED' && out.length < limit) out.push(item);
    }
  }
  return out;
}

export function createEmbedRedriveActivities({ embeddings, runs }: EmbeddingDeps) {
  /** The items of `kind` that run `oldRunId` left undone (within `scope`, a redrive's plan). */
  async function undone(kind: EmbedKind, oldRunId: string, scope?: Set<string>) {
    const ofOldRun = (i: EmbeddableItem) => i.batch?.startsWith(`${oldRunId}/`) ?? false;
    const inScope = (i: EmbeddableItem) => !scope || scope.has(i.id);
    const [notEmbedded, pending, failed] = await Promise.all(
      (['NOT_EMBEDDED', 'PENDING', 'FAILED'] as const).map((s) => embeddings.listByStatus(kind, s)),
    );
    const failedHere = failed!.filter((i) => ofOldRun(i) && inScope(i));
    const ids = [...notEmbedded!.filter(inScope), ...pending!.filter((i) => ofOldRun(i) && inScope(i))]
      .concat(failedHere)
      .map((i) => i.id)
      .sort();
    return { ids, failed: failedHere };
  }

  return {
    /**
     * Plans embedding redrive run `runId` of `redriveOf` (see the file's head), reopens the items that
     * FAILED there, and links the old run to the new one. Non-retryable when it cannot be redriven.
     */
    async planEmbeddingRedrive(input: { runId: string; redriveOf: string }): Promise<RedrivePlanSummary> {
      return heartbeating(async () => {
        const old = await redrivableRun(runs, input.redriveOf, 'embed');
        // A redrive's scope is its own plan: redriving it again narrows the same selection.
        const scope = old.redriveOf
          ? new Set([...(await runs.getRedrivePlan(old.runId)).values()].flat())
          : undefined;
        const plan = new Map<string, string[]>();
        const reopen: EmbeddableItem[] = [];
        for (const kind of kindsOf(old.params)) {
          const { ids, failed } = await undone(kind, old.runId, scope);
          if (ids.length) plan.set(kind, ids);
          reopen.push(...failed);
        }
        // The plan first: a retried attempt finds the reopened items NOT_EMBEDDED, planned the same.
        await runs.putRedrivePlan(input.runId, plan);
        await mapLimit(reopen, ITEM_UPDATE_CONCURRENCY, (i) =>
          embeddings.reopenFailed(i.kind, i.id, i.batch!),
        );
        await runs.linkRedrive(input.redriveOf, input.runId);
        return { items: [...plan.values()].reduce((n, ids) => n + ids.length, 0), groups: plan.size };
      });
    },
  };
}
