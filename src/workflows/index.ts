// Every workflow the `pipeline` worker registers.
export { evaluateLabels, evaluateMerchant, evaluateBatch, evaluateReceipt } from './evaluation';
