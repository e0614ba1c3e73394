// The one registry of failure types a workflow treats as final (never retried), by where they come
// from. Activities throw them as non-retryable ApplicationFailures of these types.
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';

/** Bad input: a workflow input, a receipt, a merchant or a file that cannot be processed as given. */
export const INPUT_FAILURES = [
  'InvalidReceipt',
  'ReceiptNotFound',
  'UnknownMerchant',
  'InvalidInput',
] as const;
/** Failures that stop the whole run, not only their item (set by the `llm` activities, llm/errors.ts). */
export const RUN_STOPPING_FAILURE_TYPES: readonly string[] = ['LlmProviderAuth', 'LlmCircuitOpen'];
/** The provider's answer or its refusal that no retry can change. */
export const LLM_FAILURES = ['LlmFatal', 'LlmInvalidAnswer'] as const;
/** Embedding runs: a delta or artifact that is gone. */
export const EMBED_FAILURES = ['InvalidInput', 'LlmFatal', 'DeltaMissing'] as const;
/** Harmonization: its artifacts or merchant are gone. */
export const HARMONIZE_FAILURES = ['InvalidInput', 'HarmonizeArtifactMissing', 'UnknownMerchant'] as const;

/** A non-retryable failure of an activity: wrapped in ActivityFailure, or bare from a local activity. */
export function isNonRetryable(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.nonRetryable === true;
}
