// A place that cannot be enriched, recorded twice: on the place (FAILED, if it exists) and as the
// run's RESULT, with the reason.
import type { PlaceStore } from '../../stores/places';
import type { RunStore } from '../../stores/runs';

export async function recordPlaceFailed(
  places: PlaceStore,
  runs: RunStore,
  failure: { runId: string; placeId: string; reason: string; exists?: boolean },
): Promise<void> {
  const { runId, placeId, reason, exists = true } = failure;
  if (exists) await places.markFailed(placeId, runId, reason);
  await runs.putResult({
    runId,
    itemId: placeId,
    status: 'FAILED',
    reason,
    detail: { placeId },
    attempt: 1,
    at: Date.now(),
  });
}
