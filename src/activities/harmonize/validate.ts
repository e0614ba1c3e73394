// The first activity of a harmonizer run: its input checked before any group starts.
import { ApplicationFailure } from '@temporalio/activity';
import { skipRuleProblems, type SkipRules } from '../../domain/harmonization';
import { LABELS, type Label } from '../../domain/llm-tasks';

export interface ValidateHarmonizeInput {
  labelTypes?: string[];
  rules: SkipRules;
  batchSize: number;
}

export function createValidateActivities() {
  return {
    /** Validates a run's input: label types known, rules in range. Bad input is not retried. */
    async validateHarmonizeInput(input: ValidateHarmonizeInput): Promise<{ labelTypes: Label[] }> {
      const problems = skipRuleProblems(input.rules);
      const unknown = (input.labelTypes ?? []).filter((l) => !(LABELS as readonly string[]).includes(l));
      if (unknown.length)
        problems.push(`unknown label types: ${unknown.join(', ')} (known: ${LABELS.join(', ')})`);
      if (!Number.isInteger(input.batchSize) || input.batchSize < 1)
        problems.push(`batchSize must be an integer >= 1, got ${input.batchSize}`);
      if (problems.length)
        throw ApplicationFailure.nonRetryable(
          `Invalid harmonize input: ${problems.join('; ')}`,
          'InvalidInput',
        );
      return { labelTypes: input.labelTypes?.length ? (input.labelTypes as Label[]) : [...LABELS] };
    },
  };
}
