// The label evaluation's workflows (seed 000): root -> merchant -> batch (its receipts inline; receipt
// workflows only in runs started before that).
export { evaluateLabels, type EvaluateLabelsRunInput, type RootCarry } from './root';
export { evaluateMerchant, type EvaluateMerchantInput } from './merchant';
export { evaluateBatch, type EvaluateBatchInput } from './batch';
export { evaluateReceipt, type EvaluateReceiptInput, type ReceiptOutcome } from './receipt';
export {
  applyEvaluationDefaults,
  type EvaluateLabelsInput,
  type FanOutWidths,
  type Settings,
} from './settings';
export { merchantProgressSignal, receiptsDoneSignal, receiptsPlannedSignal } from './progress';
