// The label harmonizer's workflows (seed 001): harmonizeLabels (the run) -> harmonizeGroup per
// (merchant, label type). Word lists and vectors move through S3; history carries counts.
export { harmonizeLabels } from './harmonize-labels';
export { harmonizeGroup, type HarmonizeGroupInput } from './harmonize-group';
export { harmonizeProgressQuery, wordsPlannedSignal, type HarmonizeProgress } from './progress';
export {
  applyHarmonizeDefaults,
  type HarmonizeLabelsInput,
  type HarmonizeSettings,
  type HarmonizeWidths,
} from './settings';
