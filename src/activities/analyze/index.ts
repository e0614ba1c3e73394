// Test-suite quality analysis (seed 002), one factory per step spread together: on the pipeline
// queue, read and parse the files and run the rules, page the uncertain functions, save verdicts,
// build the per-file report; on the `llm` queue, `analyzeTestFunction` (one prompt per function).
import { createQualityReportActivities } from './report';
import { createScanActivities } from './scan';
import type { QualityDeps } from './types';
import { createUncertainActivities } from './uncertain';
import { createVerdictActivities } from './verdicts';

export type * from './types';
export { createQualityLlmActivities } from './analyze-function';

/** Pipeline-queue activities of the analysis (files, DynamoDB). */
export function createQualityActivities(deps: QualityDeps) {
  return {
    ...createScanActivities(deps),
    ...createUncertainActivities(deps),
    ...createVerdictActivities(deps),
    ...createQualityReportActivities(deps),
  };
}
