// One (merchant, label type) group of a harmonizer run, as a child workflow: prepare -> embed what
// Chroma lacks -> neighbours + skip rules -> plan (decision cache, batches of unique words) ->
// outlier decisions on the `llm` queue -> save. Never throws for one bad batch: failures are
// recorded per word. Continues as new between batches when its history grows.
import { continueAsNew, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import type {
  FailedBatch,
  GroupRef,
  GroupSummary,
  PlanSummary,
  PreparedGroup,
} from '../../activities/harmonize';
import { emptyGroupSummary } from '../../domain/harmonization-summary';
import { errorMessage, llmProxyFor, slidingWindow, type LlmProxy } from '../shared';
import { RunBreaker } from '../run-breaker';
import { harmonizeProgressQuery, wordsPlannedSignal } from './progress';
import { groupIo } from './proxies';
import type { HarmonizeSettings } from './settings';

export interface HarmonizeGroupInput {
  settings: HarmonizeSettings;
  merchantId: string;
  label: string;
  rootWorkflowId: string;
  /** Set when continuing as new. */
  state?: GroupState;
}

interface GroupState {
  prepared: PreparedGroup;
  phase: 'embed' | 'decide';
  /** Index of the first batch of the phase not yet started. */
  next: number;
  plan?: PlanSummary;
  failedEmbedBatches: FailedBatch[];
  failedBatches: FailedBatch[];
}

/** What the phases of one run of the group share. */
interface GroupRun {
  input: HarmonizeGroupInput;
  s: HarmonizeSettings;
  ref: GroupRef;
  st: GroupState;
  /** The `llm`-queue proxy of one batch, by its stable activity id. */
  llm: (activityId: string) => LlmProxy;
  /** A batch refused for the provider's credentials fails the group (and the run), unsaved. */
  breaker: RunBreaker;
  /** Batch activities started in this run of the workflow (both phases). */
  started: number;
  /** Stop starting batches: the breaker is open, or it is time to continue as new. */
  stop: () => boolean;
}

/** One (merchant, label type) group. Never throws for one bad batch: failures are recorded per word. */
export async function harmonizeGroup(input: HarmonizeGroupInput): Promise<GroupSummary> {
  const { settings: s, merchantId, label } = input;
  const ref = { runId: s.runId, merchantId, label };
  const llmFor = llmProxyFor(merchantId, s.priority, s.llmTaskQueue);
  const st = input.state ?? (await prepareGroup(input, ref));
  const { prepared } = st;
  setHandler(harmonizeProgressQuery, () => ({
    total: prepared.words,
    done: 0,
    failed: 0,
    groupsDone: 0,
    groupsTotal: 1,
    merchantsDone: 0,
    merchantsTotal: 1,
  }));
  if (prepared.words === 0) return emptyGroupSummary(merchantId, label);

  const run: GroupRun = {
    input,
    s,
    ref,
    st,
    // A stable activity id per batch: LLM call records (keyed by activity id) stay unique across
    // continue-as-new, where Temporal's own activity ids start again from 1.
    llm: llmFor,
    breaker: new RunBreaker(),
    started: 0,
    stop: () =>
      run.breaker.open || run.started >= s.continueAsNewAfterBatches || workflowInfo().continueAsNewSuggested,
  };
  if (st.phase === 'embed') {
    await embedPhase(run);
    await planPhase(run);
  }
  await decidePhase(run);
  return groupIo.saveHarmonizeResults({
    ...ref,
    batches: st.plan!.batches,
    failedBatches: st.failedBatches,
    failedEmbedBatches: st.failedEmbedBatches,
  });
}

/** A new group: its words loaded; the root told how many (once, not again after continue-as-new). */
async function prepareGroup(input: HarmonizeGroupInput, ref: GroupRef): Promise<GroupState> {
  const { settings: s } = input;
  const prepared = await groupIo.prepareHarmonizeGroup({
    ...ref,
    embedBatchSize: s.embedBatchSize,
    neighbourChunkSize: s.neighbourChunkSize,
    exactNeighboursMax: s.exactNeighboursMax,
  });
  if (prepared.words > 0)
    await getExternalWorkflowHandle(input.rootWorkflowId).signal(wordsPlannedSignal, {
      group: `${ref.merchantId}/${ref.label}`,
      count: prepared.words,
    });
  return { prepared, phase: 'embed', next: 0, failedEmbedBatches: [], failedBatches: [] };
}

/**
 * Batches `st.next` to `total` of the current phase in a window of `width`: a batch that fails is
 * recorded in `failed` (its words end as failed words), one that stops the run trips the breaker.
 * Continues as new when the window stopped early.
 */
async function batchPhase(
  run: GroupRun,
  total: number,
  width: number,
  failed: FailedBatch[],
  batch: (batchIndex: number) => Promise<void>,
): Promise<void> {
  const { st, breaker } = run;
  const done = await breaker.run(() =>
    slidingWindow(
      range(st.next, total),
      width,
      async (batchIndex) => {
        run.started++;
        try {
          await batch(batchIndex);
        } catch (err) {
          if (breaker.trip(err)) return;
          failed.push({ batchIndex, reason: errorMessage(err) });
        }
      },
      run.stop,
    ),
  );
  st.next += done;
  if (st.next < total) await continueAsNew<typeof harmonizeGroup>({ ...run.input, state: st });
}

/** The words Chroma lacks embedded and upserted, batch by batch; continues as new when due. */
async function embedPhase(run: GroupRun): Promise<void> {
  const { s, ref, st } = run;
  // Words of a batch that cannot be embedded end as failed words; the others go on.
  await batchPhase(
    run,
    st.prepared.embedBatches,
    s.widths.embedBatches,
    st.failedEmbedBatches,
    async (batchIndex) => {
      await run
        .llm(`embed-${pad(batchIndex)}`)
        .embedWords({ ...ref, batchIndex, batchSize: s.embedBatchSize });
      await groupIo.upsertWordEmbeddings({ ...ref, batchIndex });
    },
  );
}

/** Neighbours and skip verdicts per chunk, then the plan; the group moves to its decide phase. */
async function planPhase({ s, ref, st }: GroupRun): Promise<void> {
  const { prepared } = st;
  await slidingWindow(range(0, prepared.neighbourChunks), s.widths.embedBatches, async (chunkIndex) => {
    await groupIo.findWordNeighbours({
      ...ref,
      chunkIndex,
      chunkSize: s.neighbourChunkSize,
      exact: prepared.exactNeighbours,
      rules: s.rules,
    });
  });
  st.plan = await groupIo.planOutlierDecisions({
    ...ref,
    neighbourChunks: prepared.neighbourChunks,
    batchSize: s.batchSize,
    noCache: s.noCache,
  });
  st.phase = 'decide';
  st.next = 0;
}

/** The plan's LLM batches decided; a failed batch is recorded for its words; continues as new when due. */
async function decidePhase(run: GroupRun): Promise<void> {
  const { s, ref, st } = run;
  // An invalid answer after repairs, a 400/404, or retries exhausted: recorded for its words.
  await batchPhase(run, st.plan!.batches, s.widths.decideBatches, st.failedBatches, async (batchIndex) => {
    await run.llm(`decide-${pad(batchIndex)}`).decideOutliers({ ...ref, batchIndex, noCache: s.noCache });
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function pad(n: number): string {
  return String(n).padStart(5, '0');
}
