// Pipeline-queue activities of the label evaluation (seed 000): read a receipt, apply the
// label rules, save review results, account failures, build the run report.
import { ApplicationFailure } from '@temporalio/activity';
import type { LabelReviewAnswer } from '../domain/llm-tasks';
import type { LabelIssue, Receipt } from '../domain/receipt';
import { findLabelIssues, validateReceiptShape } from '../domain/rules';
import { scoreDecisions, type ScoredDecision } from '../domain/scoring';
import { summarizeCalls } from '../llm/accounting';
import type { ReceiptStore, LabelUpdate } from '../stores/receipts';
import type { RunStore } from '../stores/runs';
import { readTruth } from '../stores/truth';

export interface EvaluationDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  truthFile: string;
}

export interface ReviewedWord {
  wordId: string;
  label: string;
  decision: LabelReviewAnswer['reviews'][number]['decision'];
  suggestedLabel: string | null;
  reason: string;
}

export interface SaveReviewResultsInput {
  runId: string;
  receiptId: string;
  merchantId: string;
  issues: LabelIssue[];
  reviews: ReviewedWord[];
  /** Chunks whose LLM review failed for good, with the reason. */
  failedChunks: Array<{ chunkIndex: number; reason: string }>;
  skippedLlmReview: boolean;
}

export interface EvaluationReport {
  runId: string;
  pipeline: 'evaluate';
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  issuesFound: number;
  decisions: Record<string, number>;
  failedChunks: number;
  failures: Array<{ itemId: string; reason: string }>;
  scores?: { precision: number; recall: number; planted: number };
  llm: ReturnType<typeof summarizeCalls>;
  makespanMs: number;
}

export function createEvaluationActivities({ receipts, runs, truthFile }: EvaluationDeps) {
  return {
    async startRun(input: {
      runId: string;
      pipeline: string;
      params: Record<string, unknown>;
      startedAt: number;
    }) {
      await runs.startRun({
        runId: input.runId,
        pipeline: input.pipeline,
        status: 'RUNNING',
        startedAt: input.startedAt,
        params: input.params,
        ...(typeof input.params.redriveOf === 'string' ? { redriveOf: input.params.redriveOf } : {}),
      });
    },

    /** A root workflow failed or was cancelled: the run record says so, with the reason. */
    async failRun(input: { runId: string; status: 'FAILED' | 'CANCELLED'; reason: string }) {
      await runs.finishRun(input.runId, { status: input.status, reason: input.reason }, input.status);
    },

    /** The merchants of a run: a redrive's from its plan, else those asked for (all by default). */
    async listMerchantIds(input: { merchantIds?: string[]; redriveRunId?: string }): Promise<string[]> {
      if (input.redriveRunId) return [...(await runs.getRedrivePlan(input.redriveRunId)).keys()].sort();
      const all = (await receipts.listMerchants()).map((m) => m.merchantId).sort();
      if (!input.merchantIds?.length) return all;
      const unknown = input.merchantIds.filter((m) => !all.includes(m));
      if (unknown.length)
        throw ApplicationFailure.nonRetryable(
          `Unknown merchant ids: ${unknown.join(', ')}`,
          'UnknownMerchant',
        );
      return input.merchantIds;
    },

    async listReceiptIds(input: { merchantId: string; redriveRunId?: string }): Promise<string[]> {
      if (input.redriveRunId)
        return (await runs.getRedrivePlan(input.redriveRunId, input.merchantId)).get(input.merchantId) ?? [];
      return (await receipts.listReceiptIds(input.merchantId)).sort();
    },

    /** Reads a receipt in one Query; a missing or malformed receipt is a non-retryable failure. */
    async fetchReceiptData(input: { receiptId: string }): Promise<Receipt> {
      const receipt = await receipts.getReceipt(input.receiptId);
      if (!receipt)
        throw ApplicationFailure.nonRetryable(`Receipt ${input.receiptId} not found`, 'ReceiptNotFound');
      const problems = validateReceiptShape(receipt);
      if (problems.length) {
        throw ApplicationFailure.nonRetryable(
          `Receipt ${input.receiptId} is invalid: ${problems.join('; ')}`,
          'InvalidReceipt',
        );
      }
      return receipt;
    },

    /** Deterministic label rules (domain/rules.ts): the issues the LLM will review. */
    async evaluateLabels(input: { receipt: Receipt; revalidate?: boolean }): Promise<LabelIssue[]> {
      return findLabelIssues(input.revalidate ? asUnreviewed(input.receipt) : input.receipt, {});
    },

    /** Applies decisions to the word labels and writes the receipt's result exactly once. */
    async saveReviewResults(input: SaveReviewResultsInput): Promise<{ written: boolean }> {
      const updates = labelUpdatesOf(input);
      await receipts.applyLabelUpdates(input.runId, updates);
      const failed = input.failedChunks.length > 0;
      const written = await runs.putResult({
        runId: input.runId,
        itemId: input.receiptId,
        status: failed ? 'FAILED' : 'SUCCEEDED',
        ...(failed
          ? { reason: input.failedChunks.map((c) => `chunk ${c.chunkIndex}: ${c.reason}`).join('; ') }
          : {}),
        detail: {
          merchantId: input.merchantId,
          issues: input.issues.length,
          reviews: input.reviews.map((r) => ({ wordId: r.wordId, label: r.label, decision: r.decision })),
          skippedLlmReview: input.skippedLlmReview,
          failedChunks: input.failedChunks.length,
        },
        attempt: 1,
        at: Date.now(),
      });
      return { written };
    },

    async recordItemFailure(input: { runId: string; itemId: string; reason: string; merchantId?: string }) {
      await runs.putResult({
        runId: input.runId,
        itemId: input.itemId,
        status: 'FAILED',
        reason: input.reason,
        detail: { merchantId: input.merchantId },
        attempt: 1,
        at: Date.now(),
      });
    },

    /** Aggregates results and LLM call records of a run; scores against the truth when known. */
    async buildEvaluationReport(input: {
      runId: string;
      status: string;
      makespanMs: number;
    }): Promise<EvaluationReport> {
      const [results, calls, truth] = await Promise.all([
        runs.listResults(input.runId),
        runs.listCalls(input.runId),
        readTruth(truthFile),
      ]);
      const decisions: Record<string, number> = { VALID: 0, INVALID: 0, NEEDS_REVIEW: 0 };
      let issuesFound = 0;
      let failedChunks = 0;
      const reviewed: Array<{ wordId: string; decision: string }> = [];
      for (const r of results) {
        const d = (r.detail ?? {}) as {
          issues?: number;
          reviews?: Array<{ wordId: string; decision: string }>;
          failedChunks?: number;
        };
        issuesFound += d.issues ?? 0;
        failedChunks += d.failedChunks ?? 0;
        for (const rev of d.reviews ?? []) {
          decisions[rev.decision] = (decisions[rev.decision] ?? 0) + 1;
          reviewed.push(rev);
        }
      }
      const report: EvaluationReport = {
        runId: input.runId,
        pipeline: 'evaluate',
        status: input.status,
        total: results.length,
        succeeded: results.filter((r) => r.status === 'SUCCEEDED').length,
        failed: results.filter((r) => r.status === 'FAILED').length,
        issuesFound,
        decisions,
        failedChunks,
        failures: results
          .filter((r) => r.status === 'FAILED')
          .slice(0, 20)
          .map((r) => ({ itemId: r.itemId, reason: r.reason ?? 'unknown' })),
        llm: summarizeCalls(calls),
        makespanMs: input.makespanMs,
      };
      const planted = truth?.planted;
      if (planted && Object.keys(planted).length > 0) {
        const receiptIds = new Set(results.map((r) => r.itemId));
        const plantedHere = Object.keys(planted).filter((w) => receiptIds.has(w.split('#')[0]!));
        const score = scoreDecisions(reviewed as ScoredDecision[], new Set(plantedHere));
        report.scores = {
          precision: round(score.precision),
          recall: round(score.recall),
          planted: plantedHere.length,
        };
      }
      await runs.finishRun(
        input.runId,
        report as unknown as Record<string, unknown>,
        input.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED',
      );
      return report;
    },
  };
}

/**
 * The review write-back (the seed's semantics): VALID and INVALID set the label's status with the
 * reviewer's reason (INVALID keeps its suggested label); NEEDS_REVIEW changes nothing (the result
 * item records it); VALID on an unlabelled word whose line neighbours proposed a label creates it.
 */
export function labelUpdatesOf(input: Pick<SaveReviewResultsInput, 'issues' | 'reviews' | 'merchantId'>) {
  const issueOf = new Map(input.issues.map((i) => [i.wordId, i]));
  const updates: LabelUpdate[] = [];
  for (const r of input.reviews) {
    if (r.decision === 'NEEDS_REVIEW') continue;
    const issue = issueOf.get(r.wordId);
    const update: LabelUpdate = {
      wordId: r.wordId,
      validationStatus: r.decision,
      reason: r.reason,
      source: 'llm-review',
      suggestedLabel: (r.suggestedLabel as LabelUpdate['suggestedLabel']) ?? null,
    };
    if (issue?.unlabelled) {
      // An unlabelled word rejected for the proposed label stays unlabelled.
      if (r.decision === 'VALID')
        updates.push({ ...update, createLabel: { label: issue.label, merchantId: input.merchantId } });
      continue;
    }
    updates.push(update);
  }
  return updates;
}

/** Labels decided by an earlier LLM review count as unverified again (for `--revalidate`). */
function asUnreviewed(receipt: Receipt): Receipt {
  return {
    ...receipt,
    lines: receipt.lines.map((l) => ({
      ...l,
      words: l.words.map((w) =>
        w.label?.source === 'llm-review'
          ? { ...w, label: { ...w.label, validationStatus: 'PENDING' as const } }
          : w,
      ),
    })),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
