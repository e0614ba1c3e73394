// Bad root inputs and what their failure must say: checked on the time-skipping server for every case
// (test/workflow/root-input.test.ts), and on the real stack for one (test/input-validation.test.ts).

export interface RootInputCase {
  /** The root workflow's type name. */
  workflow: string;
  input: Record<string, unknown>;
  /** What the failure message must say. */
  says: RegExp;
}

export const ROOT_INPUT_CASES: RootInputCase[] = [
  {
    workflow: 'evaluateLabels',
    input: { batchSize: 0 },
    says: /batchSize must be an integer from 1 to 1000, got 0/,
  },
  {
    workflow: 'evaluateLabels',
    input: { widths: { receipts: -1 }, merchantIds: ['../etc'] },
    says: /merchantIds\[0\] has characters outside.*; widths\.receipts must be an integer from 1 to 1000, got -1/,
  },
  { workflow: 'evaluateLabels', input: { batchsize: 5 }, says: /input has unknown fields batchsize/ },
  {
    workflow: 'enrichPlaces',
    input: { batchSize: 0 },
    says: /batchSize must be an integer from 1 to 100, got 0/,
  },
  { workflow: 'enrichPlaces', input: { batchesInFlight: 1.5 }, says: /batchesInFlight must be an integer/ },
  {
    workflow: 'analyzeTestSuite',
    input: { path: '/tmp', pageSize: 0 },
    says: /pageSize must be an integer from 1 to 200/,
  },
  { workflow: 'analyzeTestSuite', input: {}, says: /path or s3Prefix must be given/ },
  {
    workflow: 'analyzeTestSuite',
    input: { s3Prefix: 'a/../b' },
    says: /s3Prefix must not contain a "\.\." segment/,
  },
  {
    workflow: 'harmonizeLabels',
    input: { embedBatchSize: 0 },
    says: /embedBatchSize must be an integer from 1 to 2048/,
  },
  {
    workflow: 'harmonizeLabels',
    input: { widths: { groups: 0 } },
    says: /widths\.groups must be an integer/,
  },
  {
    workflow: 'embedBackfill',
    input: { settings: { maxRequestsPerBatch: 0 } },
    says: /settings\.maxRequestsPerBatch must be an integer from 1 to 50000/,
  },
  { workflow: 'embedBackfill', input: { kinds: ['LINES'] }, says: /kinds\[0\] must be one of LINE, WORD/ },
  {
    workflow: 'embedBackfill',
    input: { settings: { pollMs: 5 } },
    says: /settings has unknown fields pollMs/,
  },
];
