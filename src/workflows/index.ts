// Every workflow the `pipeline` worker registers.
export { evaluateLabels, evaluateMerchant, evaluateBatch, evaluateReceipt } from './evaluate';
export {
  embedBackfill,
  pollEmbeddingBatch,
  compactEmbeddings,
  triggerEmbeddingCompaction,
} from './embedding';
export { enrichPlaces } from './enrichment';
export { analyzeTestSuite } from './quality';
export { harmonizeLabels, harmonizeGroup } from './harmonization';
