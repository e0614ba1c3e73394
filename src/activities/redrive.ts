// Redrive: a new run over exactly the items an ended run did not succeed on (failed, or never
// reached because the run failed or was cancelled). The plan is computed once from the store and
// kept under the new run's id; the workflows list their items from it instead of from the data.
import { ApplicationFailure } from '@temporalio/activity';
import { LABELS } from '../domain/llm-tasks';
import { PlaceStore } from '../stores/places';
import type { ReceiptStore } from '../stores/receipts';
import type { ItemResult, RunMeta, RunStore } from '../stores/runs';

/** Longest chain of redrives of redrives followed back to the first run. */
const MAX_REDRIVE_CHAIN = 50;

/** The ended run `redriveOf` of `pipeline`, or a non-retryable failure saying why it cannot be redriven. */
export async function redrivableRun(runs: RunStore, redriveOf: string, pipeline: string): Promise<RunMeta> {
  const old = await runs.getRun(redriveOf);
  const refuse = (why: string) => ApplicationFailure.nonRetryable(why, 'InvalidInput');
  if (!old) throw refuse(`No run ${redriveOf} to redrive: no run record has that id`);
  if (old.pipeline !== pipeline) throw refuse(`Run ${redriveOf} is a ${old.pipeline} run, not ${pipeline}`);
  if (old.status === 'RUNNING')
    throw refuse(`Run ${redriveOf} is still RUNNING: wait for it to end (or cancel it), then redrive`);
  return old;
}

/** Items that succeeded in `runId` or in any run it redrives, back to the first. */
export async function succeededAlongRedrives(runs: RunStore, runId: string): Promise<Set<string>> {
  const succeeded = new Set<string>();
  let next: string | undefined = runId;
  for (let i = 0; next && i < MAX_REDRIVE_CHAIN; i++) {
    for (const r of await runs.listResults(next)) if (r.status === 'SUCCEEDED') succeeded.add(r.itemId);
    next = (await runs.getRun(next))?.redriveOf;
  }
  return succeeded;
}

/** The group holding every item of a pipeline without a natural grouping (places). */
export const ALL_ITEMS_GROUP = 'all';

export interface RedrivePlanSummary {
  items: number;
  groups: number;
}

export function createRedriveActivities({ receipts, runs }: { receipts: ReceiptStore; runs: RunStore }) {
  const places = new PlaceStore(receipts);

  /** Every item the old run was asked to process, by group (as listed now from the data). */
  async function scopeOf(old: RunMeta): Promise<Map<string, string[]>> {
    // A redrive's scope is its own plan: redriving it again narrows the same selection.
    if (old.redriveOf) return runs.getRedrivePlan(old.runId);
    const params = old.params ?? {};
    if (old.pipeline === 'evaluate' || old.pipeline === 'harmonize') {
      const asked = params.merchantIds as string[] | undefined;
      const merchantIds = asked?.length ? asked : (await receipts.listMerchants()).map((m) => m.merchantId);
      const askedLabels = params.labelTypes as string[] | undefined;
      const labels = askedLabels?.length ? askedLabels : [...LABELS];
      const scope = new Map<string, string[]>();
      for (const merchantId of [...new Set(merchantIds)].sort())
        scope.set(
          merchantId,
          // The harmonizer's items are its (merchant, label) groups: a group is redone as a whole, its
          // words decided before come from the decision cache.
          old.pipeline === 'harmonize' ? labels : (await receipts.listReceiptIds(merchantId)).sort(),
        );
      return scope;
    }
    const asked = params.placeIds as string[] | undefined;
    return new Map([[ALL_ITEMS_GROUP, asked?.length ? [...new Set(asked)] : await places.listPlaceIds()]]);
  }

  return {
    /**
     * Plans redrive run `runId` of `redriveOf`: its items not SUCCEEDED there, stored by group, and
     * the old run's record pointing to the new one. Non-retryable when the old run cannot be redriven.
     */
    async planRedrive(input: {
      runId: string;
      redriveOf: string;
      pipeline: string;
    }): Promise<RedrivePlanSummary> {
      const old = await redrivableRun(runs, input.redriveOf, input.pipeline);
      const results = await runs.listResults(input.redriveOf);
      const harmonize = old.pipeline === 'harmonize';
      const succeeded = harmonize
        ? completeGroups(results)
        : new Set(results.filter((r) => r.status === 'SUCCEEDED').map((r) => r.itemId));
      const plan = new Map<string, string[]>();
      for (const [group, ids] of await scopeOf(old)) {
        const todo = ids.filter((id) => !succeeded.has(harmonize ? `${group}/${id}` : id));
        if (todo.length) plan.set(group, todo);
      }
      await runs.putRedrivePlan(input.runId, plan);
      await runs.linkRedrive(input.redriveOf, input.runId);
      return { items: [...plan.values()].reduce((n, ids) => n + ids.length, 0), groups: plan.size };
    },

    /** A redrive's plan as (group, item) pairs, in stored order (the harmonizer's groups). */
    async listRedrivePlan(input: { runId: string }): Promise<Array<{ group: string; id: string }>> {
      const plan = await runs.getRedrivePlan(input.runId);
      return [...plan].flatMap(([group, ids]) => ids.map((id) => ({ group, id })));
    },
  };
}

/**
 * The harmonizer's `merchant/label` groups that ended complete: their words' results are written at
 * once at the group's end, so a group with results and none FAILED is done; one never reached has none.
 */
function completeGroups(results: readonly ItemResult[]): Set<string> {
  const seen = new Set<string>();
  const failed = new Set<string>();
  for (const r of results) {
    const d = (r.detail ?? {}) as { merchantId?: string; label?: string };
    const group = r.itemId.startsWith('group:')
      ? r.itemId.slice('group:'.length)
      : `${d.merchantId}/${d.label}`;
    seen.add(group);
    if (r.status !== 'SUCCEEDED') failed.add(group);
  }
  return new Set([...seen].filter((g) => !failed.has(g)));
}
