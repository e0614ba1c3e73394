// `--mode realtime|batch` (evaluate): how a run's LLM prompts are sent, and its report line.
import type { BatchModeSummary } from '../activities/batch-mode/report';
import { type ParsedArgs, UsageError, flag } from './args';

const MODES = ['realtime', 'batch'] as const;
export type RunMode = (typeof MODES)[number];

/** The run input field of `--mode` (none for the default, realtime). */
export function modeInput(args: ParsedArgs): { mode?: 'batch' } {
  const mode = flag(args, 'mode');
  if (mode === undefined || mode === 'realtime') return {};
  if (!(MODES as readonly string[]).includes(mode))
    throw new UsageError(`--mode must be realtime or batch, got "${mode}"`);
  return { mode: 'batch' };
}

/** The report line of a batch-mode run: the batch jobs' answers and the realtime fallback, with costs. */
export function modeReportLines(report: Record<string, unknown>): string[] {
  const b = report.batch as BatchModeSummary | undefined;
  if (report.mode !== 'batch' || !b) return [];
  return [
    `  mode: batch (OpenAI Batch API, half price): ${b.batchAnswers} answers ($${b.batchCostUsd}), ` +
      `${b.batchInvalid} invalid; realtime fallback: ${b.realtimeCalls} calls ($${b.realtimeCostUsd})`,
  ];
}
