// Records workflow histories for the replay test (test/replay.test.ts): runs a tiny label evaluation
// on the embedded stack and saves one history per workflow type (and outcome) as proto JSON to
// test/fixtures/histories/<workflowType>-<n>.json, n = the next free number, so histories of older
// workflow code stay and keep guarding determinism. `npx tsx scripts/save-histories.ts [--replace]`
// (--replace first deletes the saved histories). Commit the files it writes.
import fs from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import {
  HISTORIES_DIR,
  SMALL_RUN_HARNESS,
  collectHistories,
  historyFileText,
  runSmallEvaluation,
  startedWorkflowId,
} from '../test/helpers/histories';
import { startHarness } from '../test/helpers/pipeline';

function nextFile(workflowType: string): string {
  for (let n = 1; ; n++) {
    const file = path.join(HISTORIES_DIR, `${workflowType}-${n}.json`);
    if (!fs.existsSync(file)) return file;
  }
}

async function main(): Promise<void> {
  const replace = process.argv.includes('--replace');
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  if (replace) {
    for (const f of fs.readdirSync(HISTORIES_DIR)) {
      if (f.endsWith('.json')) fs.rmSync(path.join(HISTORIES_DIR, f));
    }
  }
  const h = await startHarness(SMALL_RUN_HARNESS);
  try {
    const report = await runSmallEvaluation(h);
    if (report.total !== 4 || report.succeeded !== 3 || report.failed !== 1)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    let total = 0;
    for (const rec of await collectHistories(h, report)) {
      // Replay needs the workflow id (child ids derive from it); the started event must carry it.
      startedWorkflowId(rec.history, rec.workflowId);
      const file = nextFile(rec.workflowType);
      // Formatted as `npm run lint` (prettier --check) expects.
      const options = (await prettier.resolveConfig(file)) ?? {};
      const text = await prettier.format(historyFileText(rec.history), { ...options, filepath: file });
      fs.writeFileSync(file, text);
      total += text.length;
      console.log(
        `${path.relative(process.cwd(), file)}  ${rec.history.events?.length ?? 0} events, ` +
          `${(text.length / 1024).toFixed(1)} KB  (${rec.note})`,
      );
    }
    console.log(`saved ${(total / 1024).toFixed(1)} KB of histories from run ${report.runId}`);
  } finally {
    await h.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
