// Deterministic label checks over one receipt: which labelled words look wrong, and why.
// One file per rule family; this index is the module's public face (`import ... from './rules'`).
export * from './options';
export { grandTotalArithmetic, lineItemArithmetic, singleGrandTotal } from './financial';
export { dateFormat, moneyFormat, phoneFormat, quantityFormat, timeFormat, websiteFormat } from './formats';
export { missingLineLabel, textLabelConflict } from './consistency';
export { isItemLine, positionSanity } from './position';
export { RULES, findLabelIssues, runRules } from './issues';
export { validateReceiptShape } from './shape';
