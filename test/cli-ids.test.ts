// The CLI refuses a bad run id or merchant id with a clear message (exit 2) before it connects to
// anything: ids become workflow ids and DynamoDB/S3 keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..');

function cli(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1' };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/client.ts', ...args], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

const cases: Array<[string[], RegExp]> = [
  [
    ['report', '../../etc/passwd'],
    /^error: run id "\.\.\/\.\.\/etc\/passwd" has characters outside A-Z a-z 0-9 \. _ : -$/m,
  ],
  [['report', 'run..1'], /^error: run id "run\.\.1" contains "\.\."$/m],
  [['evaluate', '--run-id', 'my run'], /^error: run id "my run" has characters outside/m],
  [
    ['harmonize', '--run-id', 'x'.repeat(101)],
    /^error: run id is 101 characters long; at most 100 are accepted$/m,
  ],
  [['evaluate', '--merchant', 'm-0001,../m'], /^error: merchant id "\.\.\/m" has characters outside/m],
  [['harmonize', '--merchants', 'a..b'], /^error: merchant id "a\.\.b" contains "\.\."$/m],
];
for (const [args, message] of cases) {
  test(`cli ${args.join(' ').slice(0, 50)} is refused with a clear message`, () => {
    const r = cli(args);
    assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  });
}
