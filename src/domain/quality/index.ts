// Test-suite quality analysis (seed 002): parsers, rules, the per-function prompt.
export * from './types';
export { analyzeTestFile, functionIdOf, testLanguageOf } from './scan';
export { DEFAULT_QUALITY_RULES, analyzeFunction, isUnclearName, type QualityRuleOptions } from './rules';
export { findJsTestCalls, tokenizeJs } from './js-parser';
export { findPyTests } from './py-parser';
export {
  MAX_SOURCE_CHARS,
  testQualityMessages,
  testQualitySchemaFor,
  truncateSource,
  type UncertainFunction,
} from './prompt';
