// `seed`: writes a synthetic dataset (or an imported file) to DynamoDB and its truth to DATA_DIR.
import fs from 'node:fs/promises';
import type { AppConfig } from '../config';
import { generateDataset, type Dataset } from '../domain/generator';
import { parseImportFile } from '../domain/import';
import { createStores } from '../deps';
import { mergeTruth } from '../stores/truth';
import { type ParsedArgs, UsageError, assertKnownFlags, flag, numberFlag } from './args';

export interface SeedSummary {
  merchants: number;
  receipts: number;
  words: number;
  planted: number;
  rejected: Array<{ index: number; receiptId?: string; reasons: string[] }>;
}

export async function seedCommand(cfg: AppConfig, args: ParsedArgs): Promise<SeedSummary> {
  assertKnownFlags(args, [
    'merchants',
    'receipts',
    'seed',
    'error-rate',
    'pending-rate',
    'from-file',
    'json',
  ]);
  const { receipts: store } = createStores(cfg);
  const fromFile = flag(args, 'from-file');
  if (fromFile) {
    const text = await fs.readFile(fromFile, 'utf8').catch((err: Error) => {
      throw new UsageError(`--from-file ${fromFile}: ${err.message}`);
    });
    const { merchants, receipts, rejected } = parseImportFile(text);
    await store.putMerchants(merchants);
    await store.putReceipts(receipts);
    const words = receipts.reduce((n, r) => n + r.lines.reduce((m, l) => m + l.words.length, 0), 0);
    return { merchants: merchants.length, receipts: receipts.length, words, planted: 0, rejected };
  }
  const merchants = numberFlag(args, 'merchants', { min: 1, max: 10_000, int: true }) ?? 3;
  const perMerchant = numberFlag(args, 'receipts', { min: 1, max: 100_000, int: true }) ?? 40;
  const seed = numberFlag(args, 'seed', { int: true }) ?? 42;
  const errorRate = numberFlag(args, 'error-rate', { min: 0, max: 1 });
  const pendingRate = numberFlag(args, 'pending-rate', { min: 0, max: 1 });
  const ds = generateDataset({
    merchants,
    receiptsPerMerchant: perMerchant,
    seed,
    ...(errorRate !== undefined ? { errorRate } : {}),
    ...(pendingRate !== undefined ? { pendingRate } : {}),
  });
  return writeDataset(cfg, ds);
}

/** Writes a generated dataset to DynamoDB and its truth to TRUTH_FILE. */
export async function writeDataset(cfg: AppConfig, ds: Dataset): Promise<SeedSummary> {
  const { receipts: store } = createStores(cfg);
  await store.putMerchants(ds.merchants);
  await store.putReceipts(ds.receipts);
  await mergeTruth(cfg.truthFile, {
    seed: ds.truth.seed,
    words: ds.truth.words,
    planted: Object.fromEntries(ds.planted.map((p) => [p.wordId, p.plantedLabel])),
  });
  const words = ds.receipts.reduce((n, r) => n + r.lines.reduce((m, l) => m + l.words.length, 0), 0);
  return {
    merchants: ds.merchants.length,
    receipts: ds.receipts.length,
    words,
    planted: ds.planted.length,
    rejected: [],
  };
}
