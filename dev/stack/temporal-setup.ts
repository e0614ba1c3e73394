// Registers the pipelines' custom search attributes on the Temporal namespace, idempotently.
import { Connection } from '@temporalio/client';
import type { AppConfig } from '../../src/config';
import { TEMPORAL_SEARCH_ATTRIBUTES } from './services';

/**
 * Values of temporal.api.enums.v1.IndexedValueType (the proto package is not a direct dependency).
 * `start-dev --search-attribute` registers attributes only when it creates the database: a dev server
 * restarted on an existing `--db-filename` ignores new ones, hence this run-time registration.
 */
const INDEXED_VALUE_TYPE = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
} as const;

/** Adds the missing TEMPORAL_SEARCH_ATTRIBUTES to `cfg.TEMPORAL_NAMESPACE`; returns the names it added. */
export async function ensureSearchAttributes(cfg: AppConfig): Promise<string[]> {
  const connection = await Connection.connect({ address: cfg.temporalAddress, connectTimeout: 5_000 });
  try {
    const namespace = cfg.TEMPORAL_NAMESPACE;
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(TEMPORAL_SEARCH_ATTRIBUTES).filter(
      ([name]) => !(name in customAttributes),
    );
    if (missing.length === 0) return [];
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]])),
    });
    return missing.map(([name]) => name);
  } finally {
    await connection.close();
  }
}
