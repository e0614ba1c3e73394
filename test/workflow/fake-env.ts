// The workflow test tier: the real workflow bundle (src/workflows) on Temporal's time-skipping test
// server, with plain fake activities (objects of async functions under the real activity names) on
// test-specific pipeline and llm queues. No DynamoDB, Chroma, S3 or emulator: each test says what
// every activity answers and checks which activities the workflows called, with what.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { TEMPORAL_SEARCH_ATTRIBUTES } from '../../dev/stack/services';
import { findTool } from '../../dev/stack/tools';
// The run's prebuilt bundle (npm test makes one), else src/workflows bundled once per test file.
import { workflowBundle } from '../../dev/harness/pipeline';

export { ApplicationFailure } from '@temporalio/activity';

/** An activity fake: called with the activity's input. */
export type Fake = (input: any) => Promise<unknown>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Fakes = Record<string, Fake>;

/** One activity call the workers saw. */
export interface Call {
  name: string;
  input: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The queues of one test and the calls its fakes received. */
export interface FakeRun {
  pipelineQueue: string;
  llmQueue: string;
  calls: Call[];
  /** The inputs of every call of `name`, in call order. */
  callsOf(name: string): any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let queueSeq = 0;

/**
 * The time-skipping test server (installed by `npm run tools`, found like the real-stack tests do),
 * with the pipelines' search attributes registered.
 */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  const server = findTool(loadConfig(), 'temporal-test-server');
  assert.ok(server, 'temporal-test-server is installed (npm run tools)');
  const [env] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: server } },
    }),
    workflowBundle(),
  ]);
  // The roots upsert the pipelines' search attributes (all Keyword, IndexedValueType 2).
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(Object.keys(TEMPORAL_SEARCH_ATTRIBUTES).map((name) => [name, 2])),
  });
  return env;
}

/** In a describe: one time-skipping server for its tests (started before, torn down after). */
export function useTimeSkipping(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  before(async () => {
    env = await startTimeSkipping();
  });
  after(async () => env?.teardown());
  return () => {
    assert.ok(env, 'the time-skipping server is up');
    return env;
  };
}

/**
 * Runs `body` with two workers on fresh queues: the pipeline one (the workflows, and `fakes` as its
 * local and regular activities) and the llm one (`fakes` again). Every call is recorded.
 */
export async function withFakeWorkers<T>(
  env: TestWorkflowEnvironment,
  fakes: Fakes,
  body: (run: FakeRun) => Promise<T>,
): Promise<T> {
  const id = `${process.pid}-${++queueSeq}`;
  const calls: Call[] = [];
  const recorded: Fakes = {};
  for (const [name, fake] of Object.entries(fakes))
    recorded[name] = async (input: unknown) => {
      calls.push({ name, input });
      return fake(input);
    };
  const run: FakeRun = {
    pipelineQueue: `wf-pipeline-${id}`,
    llmQueue: `wf-llm-${id}`,
    calls,
    callsOf: (name) => calls.filter((c) => c.name === name).map((c) => c.input),
  };
  const [pipeline, llm] = await Promise.all([
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: run.pipelineQueue,
      workflowBundle: await workflowBundle(),
      activities: recorded,
    }),
    Worker.create({ connection: env.nativeConnection, taskQueue: run.llmQueue, activities: recorded }),
  ]);
  return pipeline.runUntil(llm.runUntil(() => body(run)));
}

/** The failure of a workflow that should have failed: its error, or an assertion error if it completed. */
export async function failureOf(result: Promise<unknown>): Promise<Error> {
  return result.then(
    (r) => assert.fail(`the workflow completed: ${JSON.stringify(r)}`),
    (err: Error) => err,
  );
}

/** The message of an error and of every cause below it. */
export function messages(err: unknown): string {
  const parts: string[] = [];
  for (
    let e = err as { message?: string; cause?: unknown } | undefined;
    e && parts.length < 6;
    e = e.cause as typeof e
  )
    if (e.message) parts.push(e.message);
  return parts.join(' <- ');
}
