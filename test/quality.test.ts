// End to end: the test-suite quality analysis (seed 002) over the committed fixture, with the
// seed's workload shape: 0.5 s per LLM call, 10 calls at once. (Makespans are in bench/quality.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { QualityReport } from '../src/activities/analyze';
import { drawFaults } from '../dev/emulator/engine';
import { SeededRandom } from '../dev/emulator/random';
import { resolveEmulatorSettings } from '../dev/emulator/settings';
import { createS3Client } from '../src/stores/clients';
import { mergeTruth } from '../src/stores/truth';
import type { AnalyzeTestSuiteInput } from '../src/workflows/analyze';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const FIXTURE = path.join(__dirname, 'fixtures/quality');
const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'manifest.json'), 'utf8')) as {
  planted: Record<string, string>;
  kinds: Record<string, number>;
};
const truth = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'truth.json'), 'utf8')) as {
  functions: Record<string, { hasIssue: boolean; issues: Array<{ kind: string }> }>;
};
const EMULATOR_SEED = 2026;

async function runAnalysis(h: Harness, input: AnalyzeTestSuiteInput): Promise<QualityReport> {
  const runId = uniqueId('analyze-');
  return (await h.client.workflow.execute('analyzeTestSuite', {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, ...input }],
  })) as QualityReport;
}

/** Malformed answers among the first `n` requests after a reset: the emulator's fault stream is seeded. */
function malformedAmongFirst(n: number, malformedRate: number): number {
  const s = resolveEmulatorSettings({ seed: EMULATOR_SEED, malformedRate });
  const rng = new SeededRandom(EMULATOR_SEED);
  let count = 0;
  for (let i = 0; i < n; i++) if (drawFaults(rng, s).malformed) count++;
  return count;
}

describe('quality analysis of the fixture suite: 38 files, 91 uncertain functions, cap 10, 0.5 s calls', () => {
  let h: Harness;
  let report: QualityReport;

  before(async () => {
    h = await startHarness({
      emulator: { accuracy: 1, latencyMs: 500, jitterMs: 0, seed: EMULATOR_SEED },
      // No repairs: an invalid answer is at once a permanent (non-retryable) failure.
      env: { LLM_MAX_CONCURRENT_CALLS: '10', LLM_REPAIR_ATTEMPTS: '0' },
    });
    await mergeTruth(h.cfg.truthFile, { functions: truth.functions as never });
    report = await runAnalysis(h, { path: FIXTURE });
  });
  after(async () => h?.close());

  test('every file is reported with the rules findings; nothing is left unanalyzed', () => {
    assert.equal(report.status, 'COMPLETED');
    assert.equal(report.files, 38);
    assert.equal(report.perFile.length, 38);
    assert.equal(report.total, Object.keys(manifest.planted).length);
    assert.equal(report.failed, 0);
    assert.equal(report.succeeded, report.total);
    assert.deepEqual(report.unanalyzed, []);
    const ruleKinds = (kind: string) =>
      report.perFile.flatMap((f) => f.issues).filter((i) => i.by === 'rules' && i.kind === kind).length;
    assert.equal(ruleKinds('NO_ASSERTION'), manifest.kinds.no_assertion);
    assert.equal(ruleKinds('SKIPPED_TEST'), manifest.kinds.skipped);
    assert.equal(ruleKinds('SLEEP_IN_TEST'), manifest.kinds.sleep);
    assert.equal(ruleKinds('DUPLICATE_NAME'), manifest.kinds.duplicate);
    assert.equal(ruleKinds('UNCLEAR_NAME'), manifest.kinds.unclear_name);
    assert.equal(ruleKinds('TOO_LONG'), manifest.kinds.too_long);
  });

  test('only the 91 uncertain functions go to the LLM, one call each, never more than 10 at once', () => {
    assert.equal(report.uncertain, 91);
    assert.equal(report.analyzedByLlm, 91);
    assert.equal(report.llm.calls, 91);
    const m = h.emulator.metrics();
    assert.equal(m.requests, 91);
    assert.ok(m.inFlightMax <= 10, `inFlightMax ${m.inFlightMax}`);
    assert.equal(m.rateLimited, 0);
  });

  test("the LLM's issues are the truth's, reported on the right files", () => {
    assert.deepEqual(report.llmAgreement, { agreement: 1, judged: 91 });
    const expected = Object.values(truth.functions).reduce((n, v) => n + v.issues.length, 0);
    assert.equal(report.issuesByLlm, expected);
    const weak = Object.entries(truth.functions).find(([, v]) => v.issues[0]?.kind === 'WEAK_ASSERTION')![0];
    const file = report.perFile.find((f) => f.path === weak.split('::')[0])!;
    assert.ok(file.issues.some((i) => i.by === 'llm' && i.kind === 'WEAK_ASSERTION'));
  });

  test('with 2% of calls failing permanently the run completes and reports them UNANALYZED', async () => {
    const expectedFailures = malformedAmongFirst(91, 0.02);
    assert.ok(expectedFailures >= 1, 'the seed gives at least one failure');
    h.emulator.updateSettings({ malformedRate: 0.02 });
    h.emulator.reset();
    try {
      const r = await runAnalysis(h, { path: FIXTURE, noCache: true });
      assert.equal(r.status, 'COMPLETED');
      assert.equal(h.emulator.metrics().requests, 91, 'no failed call was retried');
      assert.equal(r.unanalyzed.length, expectedFailures);
      assert.equal(r.failed, expectedFailures);
      assert.equal(r.analyzedByLlm, 91 - expectedFailures);
      for (const u of r.unanalyzed) {
        assert.match(u.reason, /not valid for its schema/);
        assert.ok(truth.functions[u.functionId], u.functionId);
        assert.ok(r.perFile.find((f) => f.path === u.path)?.unanalyzed.includes(u.name));
      }
    } finally {
      h.emulator.updateSettings({ malformedRate: 0 });
    }
  });

  test('continues as new every 2 pages and still analyzes every function (answers from the cache)', async () => {
    const runId = uniqueId('analyze-can-');
    const r = (await h.client.workflow.execute('analyzeTestSuite', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [
        {
          runId,
          llmTaskQueue: h.cfg.TASK_QUEUE_LLM,
          path: FIXTURE,
          pageSize: 10,
          continueAsNewAfterPages: 2,
        },
      ],
    })) as QualityReport;
    assert.equal(r.uncertain, 91);
    assert.equal(r.analyzedByLlm + r.unanalyzed.length, 91);
    // One call record per function across the continued runs (none overwritten by another run's).
    assert.equal(r.llm.cacheHits + r.llm.calls, 91);
    const desc = await h.client.workflow.getHandle(runId).describe();
    assert.notEqual(desc.runId, desc.raw.workflowExecutionInfo?.firstRunId);
  });

  test('an S3 prefix works like a folder (ids relative to the prefix, so cached answers apply)', async () => {
    const prefix = `quality-${h.id}/`;
    const s3 = createS3Client(h.cfg);
    const files = ['web/src/cart-1.spec.ts', 'web/legacy/cart-5.test.js', 'api/tests/test_cart_5.py'];
    for (const f of files)
      await s3.send(
        new PutObjectCommand({
          Bucket: h.cfg.S3_BUCKET,
          Key: prefix + f,
          Body: fs.readFileSync(path.join(FIXTURE, f), 'utf8'),
        }),
      );
    h.emulator.reset();
    const r = await runAnalysis(h, { s3Prefix: prefix });
    assert.equal(r.files, 3);
    assert.deepEqual(r.perFile.map((f) => f.path).sort(), [...files].sort());
    assert.ok(r.uncertain > 0);
    assert.equal(r.llm.cacheHits, r.uncertain);
    assert.equal(h.emulator.metrics().requests, 0);
  });

  test('a folder without test files fails the run with a clear, non-retried error', async () => {
    await assert.rejects(
      runAnalysis(h, { path: path.join(FIXTURE, 'no-such-folder') }),
      (err: Error & { cause?: Error & { cause?: Error & { type?: string } } }) => {
        assert.equal(err.cause?.cause?.type, 'InvalidInput');
        assert.match(err.cause?.cause?.message ?? '', /not a folder/);
        return true;
      },
    );
  });
});
