// The seeded dataset's ground truth on disk (DATA_DIR/truth.json): read by the emulator's oracle
// and by run reports for scoring.
import fs from 'node:fs/promises';
import path from 'node:path';
import { emptyTruth, type Truth } from '../domain/llm-tasks';

export function truthPath(dataDir: string): string {
  return path.join(dataDir, 'truth.json');
}

export async function readTruth(dataDir: string): Promise<Truth | undefined> {
  try {
    return JSON.parse(await fs.readFile(truthPath(dataDir), 'utf8')) as Truth;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Merges new truth into the file (seeding places keeps the receipts' truth and vice versa). */
export async function mergeTruth(dataDir: string, patch: Partial<Truth>): Promise<void> {
  const current = (await readTruth(dataDir)) ?? emptyTruth(patch.seed ?? 0);
  const next: Truth = {
    seed: patch.seed ?? current.seed,
    words: { ...current.words, ...patch.words },
    places: { ...current.places, ...patch.places },
    functions: { ...current.functions, ...patch.functions },
    planted: { ...current.planted, ...patch.planted },
  };
  await fs.mkdir(dataDir, { recursive: true });
  const tmp = `${truthPath(dataDir)}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(next));
  await fs.rename(tmp, truthPath(dataDir));
}
