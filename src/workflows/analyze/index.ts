// Test-suite quality analysis's workflow (seed 002) and its input.
export { analyzeTestSuite } from './analyze-test-suite';
export {
  applyQualityDefaults,
  type AnalyzeSettings,
  type AnalyzeTestSuiteInput,
  type AnalyzeResume,
} from './settings';
