// The seeded dataset's ground truth on disk (TRUTH_FILE, default DATA_DIR/truth.json): read by the emulator's oracle
// and by run reports for scoring.
import fs from 'node:fs/promises';
import path from 'node:path';
import { emptyTruth, type Truth } from '../domain/llm-tasks';

export async function readTruth(file: string): Promise<Truth | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Truth;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Merges new truth into the file (seeding places keeps the receipts' truth and vice versa). */
export async function mergeTruth(file: string, patch: Partial<Truth>): Promise<void> {
  const current = (await readTruth(file)) ?? emptyTruth(patch.seed ?? 0);
  const next: Truth = {
    seed: patch.seed ?? current.seed,
    words: { ...current.words, ...patch.words },
    places: { ...current.places, ...patch.places },
    functions: { ...current.functions, ...patch.functions },
    planted: { ...current.planted, ...patch.planted },
  };
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(next));
  await fs.rename(tmp, file);
}
