// `npx tsx bench/harmonizer-text.ts [--seed S]`: what text to embed a word as, and which skip-rule
// thresholds and cache key to use, measured offline (no stack): the harmonizer's own rules, exact
// neighbours and batching over the emulator's n-gram embeddings of a seeded 5 x 60 dataset, with a
// perfect oracle (a word sent to the LLM is decided right). Prints recall, precision and LLM calls.
import { wordEmbeddingText } from '../src/domain/embedding-text';
import { generateDataset } from '../dev/generator/generator';
import { decisionBatches, exactNeighbours, groupVerdicts, type SkipRules } from '../src/domain/harmonization';
import { embedText } from '../dev/emulator/embeddings';

interface Word {
  id: string;
  text: string;
  merchantId: string;
  label: string;
  line: string;
  index: number;
}

const TEXTS: Record<string, (w: Word) => string> = {
  'bare word': (w) => w.text,
  'whole line': (w) => w.line,
  'word + line': (w) => `${w.text} | ${w.line}`,
  'in context (ours)': (w) => wordEmbeddingText(w.text, w.line, w.index),
};

function measure(
  words: Word[],
  planted: Set<string>,
  textOf: (w: Word) => string,
  rules: SkipRules,
  keyByText: boolean,
) {
  const groups = new Map<string, Word[]>();
  for (const w of words) {
    const k = `${w.merchantId}|${w.label}`;
    (groups.get(k) ?? groups.set(k, []).get(k)!).push(w);
  }
  let tp = 0;
  let fp = 0;
  let calls = 0;
  let passedAsConsistent = 0;
  for (const group of groups.values()) {
    const texts = group.map(textOf);
    const hits = exactNeighbours(
      texts.map((t) => embedText(t, 256)),
      rules.consistentNeighbours,
    );
    const undecided: Array<{ key: string; word: Word }> = [];
    const verdicts = groupVerdicts(
      hits.map((h) => h.map((x) => x.similarity)),
      rules,
    );
    group.forEach((w, i) => {
      const verdict = verdicts[i]!;
      if (verdict === 'consistent') {
        if (planted.has(w.id)) passedAsConsistent++;
      } else if (verdict === 'isolated') {
        if (planted.has(w.id)) tp++;
        else fp++;
      } else undecided.push({ key: keyByText ? w.text : texts[i]!, word: w });
    });
    const batches = decisionBatches(undecided, 10);
    calls += batches.length;
    // The first word of a key is sent; the words sharing its key get its (right) decision.
    const decision = new Map(batches.flat().map((u) => [u.key, planted.has(u.word.id)]));
    for (const u of undecided) {
      if (!decision.get(u.key)) continue;
      if (planted.has(u.word.id)) tp++;
      else fp++;
    }
  }
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    recall: r(tp / planted.size),
    precision: r(tp / Math.max(1, tp + fp)),
    callsPer1000: r((calls * 1000) / words.length),
    passedAsConsistent,
  };
}

/** The labelled words of a dataset with what the harmonizer embeds them from. */
function wordsOf(ds: ReturnType<typeof generateDataset>): Word[] {
  return ds.receipts.flatMap((r) =>
    r.lines.flatMap((l) =>
      l.words
        .filter((w) => w.label)
        .map((w) => ({
          id: w.wordId,
          text: w.text,
          merchantId: r.merchantId,
          label: w.label!.label,
          line: l.text,
          index: w.wordIndex,
        })),
    ),
  );
}

const OURS: SkipRules = {
  similarity: 0.8,
  consistentNeighbours: 10,
  isolatedSimilarity: 0.4,
  isolatedMinConsistentShare: 0.5,
};

/**
 * The harmonizer's recall / precision against the planted errors of a generated dataset, offline:
 * its rules, exact neighbours over the emulator's embeddings, batching, and a perfect oracle.
 */
export function harmonizerScores(options: Parameters<typeof generateDataset>[0], rules: SkipRules = OURS) {
  const ds = generateDataset(options);
  const words = wordsOf(ds);
  const planted = new Set(ds.planted.map((p) => p.wordId));
  return {
    words: words.length,
    planted: planted.size,
    ...measure(words, planted, TEXTS['in context (ours)']!, rules, false),
  };
}

/** The comparison as a markdown table, on the 5 x 60 dataset of `seed`. */
export function textChoiceTable(seed: number): string {
  const ds = generateDataset({ merchants: 5, receiptsPerMerchant: 60, seed });
  const planted = new Set(ds.planted.map((p) => p.wordId));
  const words = wordsOf(ds);
  const ours = OURS;
  const rows: Array<[string, ReturnType<typeof measure>]> = [];
  for (const [name, textOf] of Object.entries(TEXTS))
    rows.push([`${name}; rules 0.8 / 0.4; key: embedded text`, measure(words, planted, textOf, ours, false)]);
  const ctx = TEXTS['in context (ours)']!;
  rows.push([
    'in context; "isolated" in any group, however small or diverse (before issue 14)',
    measure(words, planted, ctx, { ...ours, isolatedMinConsistentShare: 0 }, false),
  ]);
  rows.push([
    'in context; one threshold 0.8 / 0.8 (the seed\'s "0 similar"); key: embedded text',
    measure(words, planted, ctx, { ...ours, isolatedSimilarity: 0.8 }, false),
  ]);
  rows.push(['in context; rules 0.8 / 0.4; key: bare word text', measure(words, planted, ctx, ours, true)]);
  return [
    `seed ${seed}: ${words.length} labelled words, ${planted.size} planted errors`,
    '',
    '| embedded text; rules (similar / isolated); cache key | recall | precision | LLM calls per 1,000 words | planted passed as consistent |',
    '|---|---|---|---|---|',
    ...rows.map(
      ([name, m]) =>
        `| ${name} | ${m.recall} | ${m.precision} | ${m.callsPer1000} | ${m.passedAsConsistent} |`,
    ),
  ].join('\n');
}

if (require.main === module) {
  const i = process.argv.indexOf('--seed');
  console.log(textChoiceTable(i >= 0 ? Number(process.argv[i + 1]) : 2026));
}
