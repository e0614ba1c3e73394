// The one place that names a harmonizer group's S3 files (hand-offs between its activities), and
// reads and writes them as JSON.
import { ApplicationFailure } from '@temporalio/activity';
import { harmonizeArtifactKey, indexedName } from '../../domain/harmonization';
import type { ObjectStore } from '../../stores/s3';
import type { GroupRef } from './types';

/** The group's words (`WordsFile`), written by `prepareHarmonizeGroup`. */
export const wordsKey = (ref: GroupRef) => harmonizeArtifactKey(ref, 'words.json');
/** Which rule decides each word (`PlanFile`), written by `planOutlierDecisions`. */
export const planKey = (ref: GroupRef) => harmonizeArtifactKey(ref, 'plan.json');
/** The saved group (`GroupSummary`): the only file kept once the group is saved. */
export const summaryKey = (ref: GroupRef) => harmonizeArtifactKey(ref, 'summary.json');
/** Vectors of one embedding batch, as an embedding delta (ndjson). */
export const embedDeltaKey = (ref: GroupRef, i: number) =>
  harmonizeArtifactKey(ref, indexedName('embed', i).replace(/json$/, 'ndjson'));
/** Neighbours and skip verdicts of one chunk of words (`NeighbourEntry[]`). */
export const neighboursKey = (ref: GroupRef, c: number) =>
  harmonizeArtifactKey(ref, indexedName('neighbours', c));
/** One outlier-decision batch as sent to the LLM (`DecisionBatchFile`). */
export const batchKey = (ref: GroupRef, b: number) => harmonizeArtifactKey(ref, indexedName('batch', b));
/** The LLM's decisions for one batch (`DecisionsFile`). */
export const decisionsKey = (ref: GroupRef, b: number) =>
  harmonizeArtifactKey(ref, indexedName('decisions', b));

export async function putJson(objects: ObjectStore, key: string, value: unknown): Promise<void> {
  await objects.putText(key, JSON.stringify(value), 'application/json');
}

/** Reads a hand-off file; a missing one cannot appear by retrying, so it is not retried. */
export async function getJson<T>(objects: ObjectStore, key: string): Promise<T> {
  const text = await objects.getText(key);
  if (text === undefined)
    throw ApplicationFailure.nonRetryable(
      `Harmonizer file s3://${objects.bucket}/${key} is missing (deleted while the run was going on?)`,
      'HarmonizeArtifactMissing',
    );
  return JSON.parse(text) as T;
}
