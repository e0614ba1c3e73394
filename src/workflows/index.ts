// Every workflow the `pipeline` worker registers.
export { evaluateLabels, evaluateMerchant, evaluateBatch, evaluateReceipt } from './evaluation';
export { embedBackfill, pollEmbeddingBatch, compactEmbeddings, triggerEmbeddingCompaction } from './embed';
export { enrichPlaces } from './enrichment';
export { analyzeTestSuite } from './quality';
export { harmonizeLabels, harmonizeGroup } from './harmonization';
