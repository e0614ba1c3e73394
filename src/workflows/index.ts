// Every workflow the `pipeline` worker registers.
export { evaluateLabels, evaluateMerchant, evaluateBatch, evaluateReceipt } from './evaluation';
export { embedBackfill, pollEmbeddingBatch, compactEmbeddings, triggerEmbeddingCompaction } from './embed';
export { enrichPlaces } from './enrich';
export { analyzeTestSuite } from './analyze';
export { harmonizeLabels, harmonizeGroup } from './harmonize';
