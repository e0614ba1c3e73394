// Measures the longest event-loop block of the harmonizer's exact neighbour search on one large
// group, synchronous vs sliced (domain/harmonization.ts). Not a test: run it by hand,
//   npx tsx scripts/measure-neighbour-block.ts [words=3000] [dimensions=768]
// and read the max delay: the loop's longest stall, the time a permit renewal or heartbeat would wait.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { exactNeighbours, exactNeighboursYielding } from '../src/domain/harmonization';
import { embedText } from '../dev/emulator/embeddings';

const words = Number(process.argv[2] ?? 3000);
const dimensions = Number(process.argv[3] ?? 768);
const K = 20;

/** Longest gap between turns of a 1 ms timer while `run` goes: the loop's longest stall. */
async function measure(name: string, run: () => unknown): Promise<unknown> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  let last = performance.now();
  let longestGap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 100)); // both monitors running before the work
  const started = performance.now();
  const result = await run();
  const elapsed = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 50)); // one more turn records the last stall
  clearInterval(tick);
  histogram.disable();
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(
    `${name.padEnd(12)} ${elapsed.toFixed(0).padStart(6)} ms in all; longest stall ${longestGap.toFixed(1)} ms; ` +
      `monitorEventLoopDelay max ${ms(histogram.max)} ms, p99 ${ms(histogram.percentile(99))} ms`,
  );
  return result;
}

async function main() {
  const vectors = Array.from({ length: words }, (_, i) =>
    Array.from(embedText(`WORD ${i % 97} ${i}`, dimensions)),
  );
  console.log(`exact neighbours of ${words} words x ${dimensions} dimensions, k=${K}`);
  const sync = await measure('synchronous', () => exactNeighbours(vectors, K));
  const sliced = await measure('sliced', () => exactNeighboursYielding(vectors, K));
  console.log(`same result: ${JSON.stringify(sync) === JSON.stringify(sliced)}`);
}

void main();
