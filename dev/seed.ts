// `seed`: writes a synthetic dataset (or an imported file) to DynamoDB and its truth to DATA_DIR.
import fs from 'node:fs/promises';
import { generateDataset, type Dataset } from './generator/generator';
import type { Truth } from '../src/domain/llm-tasks';
import { generatePlaces, type PlacesDataset } from './generator/places';
import { PlaceStore } from '../src/stores/places';
import { IMPORT_FORMATS, parseImport, type ImportFormat } from '../src/domain/import';
import { createStores } from '../src/deps';
import { mergeTruth } from '../src/stores/truth';
import {
  type ParsedArgs,
  UsageError,
  assertKnownFlags,
  boolFlag,
  flag,
  numberFlag,
  parseArgs,
} from '../src/cli/args';
import { LABEL_ALIASES } from '../src/domain/labels';
import { type AppConfig, loadConfig } from '../src/config';

export interface SeedSummary {
  merchants: number;
  receipts: number;
  words: number;
  planted: number;
  rejected: Array<{ index: number; receiptId?: string; reasons: string[] }>;
  /** With --from-file: the format read and the label aliases mapped (alias -> labels). */
  format?: ImportFormat;
  aliases?: Record<string, number>;
  /** With --places: places and reviews written. */
  places?: number;
  reviews?: number;
  /** With --quality-truth: test functions whose truth was merged. */
  qualityFunctions?: number;
}

/** `npm run cli -- seed ...`: writes the dataset and prints what it wrote (the summary as JSON with --json). */
export async function runSeedCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json']);
  const cfg = loadConfig();
  const summary = await seedCommand(cfg, args);
  if (summary.receipts > 0 || (summary.places === undefined && summary.qualityFunctions === undefined))
    console.log(
      `seeded ${summary.merchants} merchants, ${summary.receipts} receipts, ${summary.words} words, ${summary.planted} planted label errors` +
        (summary.format ? ` (imported from ${summary.format})` : '') +
        (summary.rejected.length ? `; rejected ${summary.rejected.length} records` : ''),
    );
  for (const [alias, n] of Object.entries(summary.aliases ?? {}))
    console.log(`  mapped ${n} label(s) ${alias} -> ${LABEL_ALIASES[alias] ?? alias}`);
  if (summary.places !== undefined)
    console.log(`seeded ${summary.places} places, ${summary.reviews} reviews`);
  if (summary.qualityFunctions !== undefined)
    console.log(`merged the truth of ${summary.qualityFunctions} test functions into ${cfg.truthFile}`);
  for (const r of summary.rejected.slice(0, 20))
    console.log(`  rejected #${r.index} ${r.receiptId ?? ''}: ${r.reasons.join('; ')}`);
  if (boolFlag(args, 'json')) console.log(JSON.stringify(summary));
  return 0;
}

export async function seedCommand(cfg: AppConfig, args: ParsedArgs): Promise<SeedSummary> {
  assertKnownFlags(args, [
    'merchants',
    'receipts',
    'seed',
    'error-rate',
    'pending-rate',
    'from-file',
    'format',
    'json',
    'places',
    'quality-truth',
  ]);
  const extras = await seedPlacesAndQualityTruth(cfg, args);
  if (extras && !['merchants', 'receipts', 'from-file'].some((f) => args.flags.has(f)))
    return { merchants: 0, receipts: 0, words: 0, planted: 0, rejected: [], ...extras };
  const { receipts: store } = createStores(cfg);
  const fromFile = flag(args, 'from-file');
  if (fromFile) {
    const text = await fs.readFile(fromFile, 'utf8').catch((err: Error) => {
      throw new UsageError(`--from-file ${fromFile}: ${err.message}`);
    });
    const format = importFormat(args);
    let parsed: ReturnType<typeof parseImport>;
    try {
      parsed = parseImport(text, format);
    } catch (err) {
      throw new UsageError(`--from-file ${fromFile} (--format ${format}): ${(err as Error).message}`);
    }
    const { merchants, receipts, rejected, aliases } = parsed;
    await store.putMerchants(merchants);
    await store.putReceipts(receipts);
    const words = receipts.reduce((n, r) => n + r.lines.reduce((m, l) => m + l.words.length, 0), 0);
    return {
      merchants: merchants.length,
      receipts: receipts.length,
      words,
      planted: 0,
      rejected,
      format,
      ...(aliases ? { aliases } : {}),
      ...extras,
    };
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
  return { ...(await writeDataset(cfg, ds)), ...extras };
}

/** `--format`: how to read `--from-file` (default `native`, this project's own format). */
function importFormat(args: ParsedArgs): ImportFormat {
  const format = flag(args, 'format') ?? 'native';
  if (!(IMPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(
      `--format ${format} is not a known import format; use one of ${IMPORT_FORMATS.join(', ')}`,
    );
  return format as ImportFormat;
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

/** `--places N` (seeded by `--seed`) and `--quality-truth F`; undefined when neither is given. */
async function seedPlacesAndQualityTruth(
  cfg: AppConfig,
  args: ParsedArgs,
): Promise<Pick<SeedSummary, 'places' | 'reviews' | 'qualityFunctions'> | undefined> {
  const count = numberFlag(args, 'places', { min: 1, max: 100_000, int: true });
  const truthPath = flag(args, 'quality-truth');
  if (count === undefined && truthPath === undefined) return undefined;
  const out: Pick<SeedSummary, 'places' | 'reviews' | 'qualityFunctions'> = {};
  if (count !== undefined) {
    const ds = generatePlaces({ count, seed: numberFlag(args, 'seed', { int: true }) ?? 42 });
    await writePlaces(cfg, ds);
    out.places = ds.places.length;
    out.reviews = ds.places.reduce((n, p) => n + p.reviews.length, 0);
  }
  if (truthPath !== undefined) {
    const text = await fs.readFile(truthPath, 'utf8').catch((err: Error) => {
      throw new UsageError(`--quality-truth ${truthPath}: ${err.message}`);
    });
    let functions: Truth['functions'] | undefined;
    try {
      functions = (JSON.parse(text) as Partial<Truth>).functions;
    } catch (err) {
      throw new UsageError(`--quality-truth ${truthPath}: not JSON (${(err as Error).message})`);
    }
    if (!functions || typeof functions !== 'object')
      throw new UsageError(
        `--quality-truth ${truthPath}: no "functions" object (see test/fixtures/quality/truth.json)`,
      );
    await mergeTruth(cfg.truthFile, { functions });
    out.qualityFunctions = Object.keys(functions).length;
  }
  return out;
}

/** Writes generated places with their reviews (PENDING) and their truth to TRUTH_FILE. */
export async function writePlaces(cfg: AppConfig, ds: PlacesDataset): Promise<void> {
  const { receipts } = createStores(cfg);
  await new PlaceStore(receipts).putPlaces(ds.places);
  await mergeTruth(cfg.truthFile, { places: ds.truth });
}
