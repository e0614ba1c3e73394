// Every workflow the `pipeline` worker registers (the bundle entry): one folder per pipeline.
export { evaluateLabels, evaluateMerchant, evaluateBatch, evaluateReceipt } from './evaluate';
export { pollLlmBatchJob } from './batch-mode/poll-job';
export { embedBackfill, pollEmbeddingBatch, compactEmbeddings, triggerEmbeddingCompaction } from './embed';
export { enrichPlaces } from './enrich';
export { analyzeTestSuite } from './analyze';
export { harmonizeLabels, harmonizeGroup } from './harmonize';
