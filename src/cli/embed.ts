// `embed`: start a backfill run, show the embedding status, manage the Temporal Schedules.
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import type { AppConfig } from '../config';
import { embeddingCounts, type EmbeddingCounts, type EmbeddingReport } from '../activities/embed';
import { createEmbeddingDeps } from '../deps';
import type { EmbedKind } from '../domain/embedding';
import { connectClient } from '../temporal';
import { embedBackfill, triggerEmbeddingCompaction, type EmbedBackfillInput } from '../workflows/embed';
import { PipelineKey } from '../workflows/shared';
import { type ParsedArgs, UsageError, assertKnownFlags, boolFlag, flag } from './args';
import { runPipelineCommand } from './pipelines';

export const BACKFILL_SCHEDULE_ID = 'embed-backfill';
export const COMPACTION_SCHEDULE_ID = 'embed-compaction';

const KINDS: Record<string, EmbedKind[]> = { lines: ['LINE'], words: ['WORD'], all: ['LINE', 'WORD'] };

/** `embed [--kind lines|words|all] [--wait] [--json]`, `embed status [--json]`, `embed schedule ...` */
export async function embedCommand(
  cfg: AppConfig,
  args: ParsedArgs,
  printReport: (report: Record<string, unknown>, json: boolean) => void,
): Promise<number> {
  const sub = args.positional[0];
  if (sub === 'status') return statusCommand(cfg, args);
  if (sub === 'schedule') return scheduleCommand(cfg, args);
  if (sub !== undefined) throw new UsageError(`embed takes status, schedule or no subcommand, got "${sub}"`);
  assertKnownFlags(args, ['kind', 'wait', 'json', 'run-id']);
  const kind = flag(args, 'kind') ?? 'all';
  const kinds = KINDS[kind];
  if (!kinds) throw new UsageError(`--kind must be lines, words or all, got "${kind}"`);
  const input: EmbedBackfillInput = { kinds };
  return runPipelineCommand(cfg, args, { pipeline: 'embed', workflow: embedBackfill, input }, printReport);
}

export interface EmbedStatus extends EmbeddingCounts {
  compactor: { id: string; status: string };
}

/** Counts from DynamoDB (GSI2 partitions, batch and delta records) and Chroma, plus the compactor. */
export async function embedStatus(cfg: AppConfig, client?: Client): Promise<EmbedStatus> {
  const deps = createEmbeddingDeps(cfg);
  const counts = await embeddingCounts(deps.embeddings, deps.vectors);
  let status = 'NOT_STARTED';
  if (client) {
    try {
      status = (await client.workflow.getHandle(cfg.EMBED_COMPACTOR_ID).describe()).status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return { ...counts, compactor: { id: cfg.EMBED_COMPACTOR_ID, status } };
}

async function statusCommand(cfg: AppConfig, args: ParsedArgs): Promise<number> {
  assertKnownFlags(args, ['json']);
  const client = await connectClient(cfg);
  try {
    const s = await embedStatus(cfg, client);
    const row = (
      name: string,
      c: { embedded: number; pending: number; failed: number; notEmbedded: number; chroma: number },
    ) =>
      `  ${name.padEnd(6)} embedded ${c.embedded}, pending ${c.pending}, failed ${c.failed}, not embedded ${c.notEmbedded}, in Chroma ${c.chroma}`;
    console.log(
      [
        `embedding: ${s.embedded} embedded, ${s.pending} pending, ${s.failed} failed, ${s.notEmbedded} not embedded; Chroma holds ${s.chroma}`,
        row('lines', s.byKind.lines),
        row('words', s.byKind.words),
        `  batches open ${s.batchesOpen}, deltas pending ${s.deltasPending}, compactor ${s.compactor.id}: ${s.compactor.status}`,
      ].join('\n'),
    );
    if (boolFlag(args, 'json')) console.log(JSON.stringify(s));
    return 0;
  } finally {
    await client.connection.close();
  }
}

/** The two schedules: a backfill that submits what is new, and a compaction request as a safety net. */
export function embedSchedules(
  cfg: AppConfig,
  every: string,
  compactEvery: string,
  ids = { backfill: BACKFILL_SCHEDULE_ID, compaction: COMPACTION_SCHEDULE_ID },
): ScheduleOptions[] {
  const common = {
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    typedSearchAttributes: [{ key: PipelineKey, value: 'embed' }],
  };
  const backfill: EmbedBackfillInput = { waitForBatches: false };
  return [
    {
      scheduleId: ids.backfill,
      spec: { intervals: [{ every }] },
      action: {
        type: 'startWorkflow',
        workflowType: embedBackfill,
        workflowId: `${ids.backfill}-run`,
        taskQueue: cfg.TASK_QUEUE_PIPELINE,
        args: [backfill],
      },
      ...common,
    },
    {
      scheduleId: ids.compaction,
      spec: { intervals: [{ every: compactEvery }] },
      action: {
        type: 'startWorkflow',
        workflowType: triggerEmbeddingCompaction,
        workflowId: `${ids.compaction}-trigger`,
        taskQueue: cfg.TASK_QUEUE_PIPELINE,
        args: [{}],
      },
      ...common,
    },
  ];
}

/** `embed schedule [--every 1h] [--compact-every 15m] [--delete] [--json]`: create/update, or delete. */
async function scheduleCommand(cfg: AppConfig, args: ParsedArgs): Promise<number> {
  assertKnownFlags(args, ['every', 'compact-every', 'delete', 'json']);
  const client = await connectClient(cfg);
  try {
    if (boolFlag(args, 'delete')) {
      const deleted: string[] = [];
      for (const id of [BACKFILL_SCHEDULE_ID, COMPACTION_SCHEDULE_ID]) {
        try {
          await client.schedule.getHandle(id).delete();
          deleted.push(id);
        } catch (err) {
          if (!(err instanceof ScheduleNotFoundError)) throw err;
        }
      }
      console.log(
        deleted.length ? `deleted schedules ${deleted.join(', ')}` : 'no embedding schedules to delete',
      );
      if (boolFlag(args, 'json')) console.log(JSON.stringify({ deleted }));
      return 0;
    }
    const every = flag(args, 'every') ?? '1h';
    const compactEvery = flag(args, 'compact-every') ?? '15m';
    for (const d of [every, compactEvery])
      if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(d))
        throw new UsageError(`intervals look like 30s, 15m, 1h or 1d; got "${d}"`);
    const done: Array<{ scheduleId: string; every: string; action: string }> = [];
    for (const opts of embedSchedules(cfg, every, compactEvery)) {
      try {
        await client.schedule.create(opts);
        done.push({ scheduleId: opts.scheduleId, every: describeEvery(opts), action: 'created' });
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        await client.schedule
          .getHandle(opts.scheduleId)
          .update((prev) => ({ ...prev, spec: opts.spec, action: opts.action }));
        done.push({ scheduleId: opts.scheduleId, every: describeEvery(opts), action: 'updated' });
      }
    }
    for (const d of done) console.log(`${d.action} schedule ${d.scheduleId}: every ${d.every}`);
    if (boolFlag(args, 'json')) console.log(JSON.stringify({ schedules: done }));
    return 0;
  } finally {
    await client.connection.close();
  }
}

function describeEvery(opts: ScheduleOptions): string {
  return String(opts.spec.intervals?.[0]?.every ?? '?');
}

/** Report lines of an embedding run (none for other pipelines). */
export function embedReportLines(report: Record<string, unknown>): string[] {
  if (report.pipeline !== 'embed') return [];
  const r = report as unknown as EmbeddingReport;
  const statuses = Object.entries(r.batchStatuses ?? {})
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const lines = [
    `  ${r.batches} batches in ${r.rounds} round(s) (${statuses || 'none settled'}); ${r.resubmitted} items resubmitted, ${r.released} released, ${r.reusedFromChroma ?? 0} found in Chroma already`,
  ];
  if (r.index)
    lines.push(
      `  index: ${r.index.embedded} embedded, ${r.index.pending} pending, ${r.index.failed} failed; Chroma holds ${r.index.chroma}`,
    );
  return lines;
}
