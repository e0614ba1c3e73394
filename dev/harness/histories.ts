// Workflow histories for replay tests: one small label evaluation run end to end, the histories of
// each workflow type it produced, and the proto-JSON files under test/fixtures/histories.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import type { EvaluationReport } from '../../src/activities/evaluate';
import { createStores } from '../../src/deps';
import type { evaluateLabels } from '../../src/workflows/evaluate';
import { uniqueId, type Harness, type HarnessOptions } from './pipeline';

export const HISTORIES_DIR = path.resolve(__dirname, '../../test/fixtures/histories');

/** A tiny dataset (1 merchant x 3 receipts) plus one receipt without lines, so files stay small. */
export const SMALL_RUN_HARNESS: HarnessOptions = {
  emulator: { accuracy: 1, latencyMs: 10, jitterMs: 2 },
  env: { LLM_MAX_CONCURRENT_CALLS: '2' },
  dataset: { merchants: 1, receiptsPerMerchant: 3, seed: 5, minItems: 2, maxItems: 3 },
};

export const BAD_RECEIPT_ID = 'm-0001-r-90001';

export interface RecordedHistory {
  /** File stem: `<workflowType>-<n>` once saved. */
  workflowType: string;
  /** What this history shows, e.g. "merchant run that continued as new". */
  note: string;
  workflowId: string;
  runId: string;
  history: History;
}

/**
 * Runs a label evaluation over the harness's dataset (which should be SMALL_RUN_HARNESS's) with
 * one batch per receipt and a merchant that continues as new after 2 batches.
 */
export async function runSmallEvaluation(h: Harness): Promise<EvaluationReport> {
  const { receipts } = createStores(h.cfg);
  const good = h.dataset!.receipts[0]!;
  await receipts.putReceipts([{ ...good, receiptId: BAD_RECEIPT_ID, lines: [] }]);
  const runId = uniqueId('replay-');
  return h.client.workflow.execute<typeof evaluateLabels>('evaluateLabels', {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [
      {
        runId,
        llmTaskQueue: h.cfg.TASK_QUEUE_LLM,
        batchSize: 1,
        continueAsNewAfterBatches: 2,
        reviewChunkSize: 8,
      },
    ],
  });
}

/** The histories of one workflow of each type (and of each interesting outcome) of a run. */
export async function collectHistories(h: Harness, report: EvaluationReport): Promise<RecordedHistory[]> {
  const { client } = h;
  const root = report.runId;
  const merchantId = `${root}/m-0001`;
  const out: RecordedHistory[] = [];
  const add = async (workflowType: string, note: string, workflowId: string, runId?: string) => {
    const handle = client.workflow.getHandle(workflowId, runId);
    const desc = await handle.describe();
    if (desc.type !== workflowType) throw new Error(`${workflowId} is a ${desc.type}, not a ${workflowType}`);
    out.push({ workflowType, note, workflowId, runId: desc.runId, history: await handle.fetchHistory() });
  };
  await add('evaluateLabels', 'root run of 1 merchant', root);
  const merchant = await client.workflow.getHandle(merchantId).describe();
  const firstRunId = merchant.raw.workflowExecutionInfo?.firstRunId;
  if (!firstRunId || firstRunId === merchant.runId)
    throw new Error(`${merchantId} did not continue as new (continueAsNewAfterBatches ignored?)`);
  await add('evaluateMerchant', 'merchant run that continued as new after 2 batches', merchantId, firstRunId);
  await add('evaluateMerchant', 'merchant run continued from batch 2, completed', merchantId, merchant.runId);

  // One receipt per batch (batchSize 1), batches in receipt id order.
  const results = await createStores(h.cfg).runs.listResults(root);
  const batchOf = (receiptId: string) =>
    `${merchantId}/b${String(
      results
        .map((r) => r.itemId)
        .sort()
        .indexOf(receiptId),
    ).padStart(5, '0')}`;
  const reviewed = results.find(
    (r) => r.status === 'SUCCEEDED' && ((r.detail as { issues?: number }).issues ?? 0) > 0,
  );
  if (!reviewed) throw new Error(`no receipt of ${root} had label issues for the LLM to review`);
  // Receipts run inline in their batch (evaluate-receipts-inline): a batch's history holds its receipt.
  await add('evaluateBatch', 'batch of one receipt whose issues the LLM reviewed', batchOf(reviewed.itemId));
  await add(
    'evaluateBatch',
    'batch of one receipt without lines: recorded non-retryable failure',
    batchOf(BAD_RECEIPT_ID),
  );
  return out;
}

/*
 * Proto JSON of histories (the format of `temporal workflow show -o json` and of the Web UI's
 * download). The SDK's historyToJSON/historyFromJSON (@temporalio/common/lib/proto-utils) throw
 * "type must be a Type" in this install: npm nests one protobufjs 8 copy under each of
 * @temporalio/common, /proto and /worker (grpc's proto-loader holds the top-level protobufjs 7), so
 * common's protojson rejects the Type objects built by proto's copy. We use the protojson of the
 * very copy @temporalio/proto is built with, which works nested or hoisted.
 */
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}
// Resolved from @temporalio/proto's own directory: the protobufjs copy its types were built with.
const protojson = createRequire(require.resolve('@temporalio/proto'))(
  'protobufjs/ext/protojson',
) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

export function historyFileText(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history);
  return JSON.stringify(protojson.toJson(historyType, message), null, 2) + '\n';
}

export function historyFromFileText(text: string): History {
  return protojson.fromJson(historyType, JSON.parse(text), { ignoreUnknownFields: true }) as History;
}

export interface HistoryFile {
  file: string;
  workflowId: string;
  history: History;
}

/** Every saved history, with the workflow id its started event records (child ids derive from it). */
export function loadHistoryFiles(dir = HISTORIES_DIR): HistoryFile[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const history = historyFromFileText(fs.readFileSync(file, 'utf8'));
      return { file, workflowId: startedWorkflowId(history, file), history };
    });
}

export function startedWorkflowId(history: History, where = 'history'): string {
  const id = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId;
  if (!id) throw new Error(`${where}: its first event records no workflow id`);
  return id;
}
