// Calibrates the emulator's queueing model against the real Ollama server: the same prompts sent
// 1, 2 and 4 at a time to both, latency side by side. The real server's prefill and decode rates
// (from its own prompt_eval/eval durations) and its gain from a second slot set the emulator's.
import { answerJsonSchemaFor } from '../src/domain/llm-tasks';
import { generateDataset } from '../dev/generator/generator';
import { labelReviewMessages } from '../src/domain/prompts';
import { findLabelIssues } from '../src/domain/rules';
import { startEmulator } from '../dev/emulator/server';
import { outputTokenLimit } from '../src/llm/output-limit';

export interface CalibrationRow {
  concurrency: number;
  realMeanMs: number;
  realMaxMs: number;
  emulatorMeanMs: number;
  emulatorMaxMs: number;
}

export interface Calibration {
  parallel: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
  parallelSpeedup: number;
  rows: CalibrationRow[];
}

interface OllamaAnswer {
  prompt_eval_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
}

/** A label-review request of `items` issues, as the pipeline sends it. */
function reviewRequest(model: string, items: number) {
  const ds = generateDataset({ merchants: 1, receiptsPerMerchant: 1, seed: 42 });
  const issues = findLabelIssues(ds.receipts[0]!).slice(0, items);
  const format = answerJsonSchemaFor(
    'label_review',
    issues.map((i) => i.wordId),
  );
  return {
    model,
    stream: false,
    messages: labelReviewMessages(ds.receipts[0]!.merchantName, issues),
    format,
    options: { temperature: 0, num_predict: outputTokenLimit(format, items) },
  };
}

async function burst(url: string, body: unknown, n: number) {
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(`${url}/api/chat`, { method: 'POST', body: JSON.stringify(body) });
      const json = (await res.json()) as OllamaAnswer;
      return { ms: Date.now() - started, json };
    }),
  );
  const ms = answers.map((a) => a.ms);
  return { mean: Math.round(ms.reduce((a, b) => a + b, 0) / n), max: Math.max(...ms), answers };
}

export async function calibrateAgainstOllama(
  ollamaUrl: string,
  model: string,
  parallel: number,
  truthFile: string,
): Promise<Calibration> {
  const body = reviewRequest(model, 2);
  await burst(ollamaUrl, body, 1); // warm
  const real = new Map<number, Awaited<ReturnType<typeof burst>>>();
  for (const c of [1, 2, 4]) real.set(c, await burst(ollamaUrl, body, c));
  const lone = real.get(1)!.answers[0]!.json;
  const rate = (count = 0, ns = 1) => Math.round((count / (ns / 1e9)) * 10) / 10;
  const prefillTokensPerS = rate(lone.prompt_eval_count, lone.prompt_eval_duration);
  const decodeTokensPerS = rate(lone.eval_count, lone.eval_duration);
  // Two at once finished in `two.max` where one alone took `one.max`: 2 * one / two is the gain.
  const speedup = Math.max(1, Math.min(parallel, (2 * real.get(1)!.max) / real.get(2)!.max));
  const emulator = await startEmulator({
    port: 0,
    providerModel: 'queueing',
    parallel,
    maxQueue: 0,
    latencyMs: 0,
    jitterMs: 0,
    prefillTokensPerS,
    decodeTokensPerS,
    parallelSpeedup: Math.round(speedup * 100) / 100,
    truthFile,
  });
  const rows: CalibrationRow[] = [];
  try {
    for (const c of [1, 2, 4]) {
      const e = await burst(emulator.url, body, c);
      rows.push({
        concurrency: c,
        realMeanMs: real.get(c)!.mean,
        realMaxMs: real.get(c)!.max,
        emulatorMeanMs: e.mean,
        emulatorMaxMs: e.max,
      });
    }
  } finally {
    await emulator.close();
  }
  return {
    parallel,
    prefillTokensPerS,
    decodeTokensPerS,
    parallelSpeedup: Math.round(speedup * 100) / 100,
    rows,
  };
}

export function renderCalibration(c: Calibration): string {
  return [
    `Calibration (the same 2-issue review prompt sent 1, 2 and 4 at a time): real Ollama prefill ${c.prefillTokensPerS} tok/s, ` +
      `decode ${c.decodeTokensPerS} tok/s, 2 slots = ${c.parallelSpeedup}x one; the emulator's queueing model set to these. ` +
      `The emulator answers with its own tokens, so absolute times differ; the shape (latency vs concurrency) is what it models.`,
    '',
    `| at once | real Ollama mean / max ms | emulator mean / max ms |`,
    `|---|---|---|`,
    ...c.rows.map(
      (r) =>
        `| ${r.concurrency} | ${r.realMeanMs} / ${r.realMaxMs} | ${r.emulatorMeanMs} / ${r.emulatorMaxMs} |`,
    ),
  ].join('\n');
}
