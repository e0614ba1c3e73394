// The harmonizer on the real stack for tests: a harness with Chroma collections of its own, a run
// started or awaited, and the labelled words of the harness dataset (what every run must account for).
import type { WorkflowHandle } from '@temporalio/client';
import type { HarmonizeReport } from '../../src/activities/harmonize';
import { createHarmonizationStores } from '../../src/deps';
import { harmonizeLabels, type HarmonizeLabelsInput } from '../../src/workflows/harmonize';
import {
  startHarness,
  startRoot,
  uniqueId,
  type Harness,
  type HarnessOptions,
} from '../../dev/harness/pipeline';

/** A harness whose workers use their own Chroma collections (dropped when it closes). */
export async function harmonizerHarness(opts: HarnessOptions): Promise<Harness> {
  const h = await startHarness({
    ...opts,
    env: { CHROMA_COLLECTION_PREFIX: `${uniqueId('hz')}-`, ...opts.env },
  });
  const close = h.close.bind(h);
  h.close = async () => {
    await close();
    await createHarmonizationStores(h.cfg).chroma.deleteCollections();
  };
  return h;
}

export function startHarmonize(
  h: Harness,
  input: HarmonizeLabelsInput = {},
): Promise<WorkflowHandle<typeof harmonizeLabels>> {
  return startRoot(h, harmonizeLabels, 'hz-', input);
}

export async function harmonize(h: Harness, input: HarmonizeLabelsInput = {}): Promise<HarmonizeReport> {
  return (await startHarmonize(h, input)).result();
}

/** Labelled words of the harness dataset (optionally of one merchant and label). */
export function labelledWords(h: Harness, merchantId?: string, label?: string) {
  return h
    .dataset!.receipts.filter((r) => !merchantId || r.merchantId === merchantId)
    .flatMap((r) =>
      r.lines.flatMap((l) =>
        l.words
          .filter((w) => w.label && (!label || w.label.label === label))
          .map((w) => ({ ...w, merchantId: r.merchantId, lineText: l.text })),
      ),
    );
}
