// The run's uncertain functions read back in pages, in scan order (the workflow's input for the
// LLM calls, one page at a time).
import type { TestLanguage, UncertainFunction } from '../../domain/quality';
import { runPartition } from '../../stores/runs';
import { uncertainSortKey } from './run-items';
import type { QualityDeps } from './types';

export function createUncertainActivities({ receipts }: QualityDeps) {
  return {
    /** A page of the run's uncertain functions, in scan order. */
    async listUncertainFunctions(input: {
      runId: string;
      from: number;
      limit: number;
    }): Promise<UncertainFunction[]> {
      const items = await receipts.queryAll({
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :a AND :b',
        ExpressionAttributeValues: {
          ':pk': runPartition(input.runId),
          ':a': uncertainSortKey(input.from),
          ':b': uncertainSortKey(input.from + input.limit - 1),
        },
      });
      return items.map((i) => ({
        id: String(i.id),
        path: String(i.path),
        language: i.language as TestLanguage,
        fullName: String(i.fullName),
        startLine: Number(i.startLine),
        endLine: Number(i.endLine),
        source: String(i.source),
        signals: (i.signals as string[]) ?? [],
      }));
    },
  };
}
