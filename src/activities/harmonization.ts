// Pipeline-queue activities of the label harmonizer (seed 001): load a (label, merchant) group,
// keep its vectors in Chroma current, look up neighbours, apply the skip rules and the decision
// cache, save per-word results, build the report. Word lists move between activities as files in
// S3 (one prefix per group), so workflow history only carries counts.
import { scoreDecisions } from '../domain/scoring';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { parseDeltaNdjson } from '../domain/embedding';
import {
  PROMPT_NEIGHBOURS,
  decisionBatches,
  exactNeighboursYielding,
  harmonizeArtifactKey,
  harmonizeArtifactPrefix,
  indexedName,
  skipRuleProblems,
  groupVerdicts,
  type SkipRules,
  type SkipVerdict,
} from '../domain/harmonization';
import { LABELS, type Label } from '../domain/llm-tasks';
import type { OutlierPromptItem } from '../domain/prompts';
import { summarizeCalls, type CallRecord } from '../llm/accounting';
import {
  sameDocument,
  sameMetadata,
  wordChromaRecord,
  type ChromaRecord,
  type ChromaStore,
} from '../stores/chroma';
import { decisionKey, type OutlierDecision, type OutlierDecisionCache } from '../stores/outlier-decisions';
import { keys, parseWordId, type ReceiptStore } from '../stores/receipts';
import type { ItemResult, RunStore } from '../stores/runs';
import type { ObjectStore } from '../stores/s3';
import { readTruth } from '../stores/truth';

export interface HarmonizationDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  truthFile: string;
  chroma: ChromaStore;
  objects: ObjectStore;
  outlierDecisions: OutlierDecisionCache;
}

/** A (label, merchant) group of one run: what every harmonizer activity is about. */
export interface GroupRef {
  runId: string;
  merchantId: string;
  label: string;
}

/** One labelled word as the group's activities hand it on (`words.json`). */
export interface GroupWord extends ChromaRecord {
  text: string;
  /** The outlier flag the word item carries from an earlier run (only changes are written). */
  previousOutlier?: boolean;
}

export interface WordsFile {
  merchantName: string;
  words: GroupWord[];
  /** Ids of the words whose vector is missing or stale in Chroma, in embedding-batch order. */
  toEmbed: string[];
}

export interface NeighbourEntry {
  wordId: string;
  verdict: SkipVerdict | 'missing';
  similar: number;
  nearest: number | null;
  neighbours: OutlierPromptItem['neighbours'];
}

/** How a word got its decision. */
export type DecisionRule = 'consistent' | 'isolated' | 'cached' | 'llm' | 'shared' | 'missing';

export interface PlanFile {
  words: Array<{ wordId: string; rule: DecisionRule; key?: string }>;
  /** Decisions served by the cache, by key. */
  cached: Record<string, OutlierDecision>;
}

export interface DecisionBatchFile {
  merchantName: string;
  label: string;
  items: OutlierPromptItem[];
  /** Decision key of each item, in item order. */
  keys: string[];
}

export interface DecisionsFile {
  decisions: Array<OutlierDecision & { id: string; key: string }>;
}

export interface PreparedGroup {
  words: number;
  toEmbed: number;
  embedBatches: number;
  neighbourChunks: number;
  /** Exact neighbours (all pairs, one chunk) rather than Chroma's approximate index. */
  exactNeighbours: boolean;
  /** Words whose vector was current but whose metadata (e.g. validation status) was updated. */
  metadataUpdated: number;
}

export interface PlanSummary {
  batches: number;
  consistent: number;
  isolated: number;
  cached: number;
  llm: number;
  shared: number;
  missing: number;
}

export interface FailedBatch {
  batchIndex: number;
  reason: string;
}

export interface GroupSummary {
  merchantId: string;
  label: string;
  words: number;
  succeeded: number;
  failed: number;
  outliers: number;
  consistent: number;
  isolated: number;
  cached: number;
  llm: number;
  shared: number;
  batches: number;
  failedBatches: number;
  verdictsChanged: number;
}

export interface HarmonizeReport {
  runId: string;
  pipeline: 'harmonize';
  status: string;
  /** Items are words: every labelled word of the selected groups. */
  total: number;
  succeeded: number;
  failed: number;
  words: number;
  outliers: number;
  skipped: {
    /** Enough similar neighbours: consistent, no LLM call. */
    consistentByNeighbours: number;
    /** No neighbour even loosely similar: outlier, no LLM call. */
    outlierNoNeighbours: number;
    /** Decision found in the decision cache (an earlier run). */
    cached: number;
    /** Same word in the same context as another word of this run: decided once. */
    sameTextInRun: number;
  };
  /** Words whose decision came from this run's LLM calls. */
  llmDecided: number;
  llmCalls: { outlierDecisions: number; embeddings: number };
  /** Outlier-decision LLM calls per 1,000 words (one call per word would be 1,000). */
  callsPer1000Words: number;
  groups: number;
  failedBatches: number;
  failures: Array<{ itemId: string; reason: string }>;
  scores?: { precision: number; recall: number; planted: number };
  llm: ReturnType<typeof summarizeCalls>;
  makespanMs: number;
}

export const wordsKey = (ref: GroupRef) => harmonizeArtifactKey(ref, 'words.json');
const planKey = (ref: GroupRef) => harmonizeArtifactKey(ref, 'plan.json');
const summaryKey = (ref: GroupRef) => harmonizeArtifactKey(ref, 'summary.json');
export const embedDeltaKey = (ref: GroupRef, i: number) =>
  harmonizeArtifactKey(ref, indexedName('embed', i).replace(/json$/, 'ndjson'));
const neighboursKey = (ref: GroupRef, c: number) => harmonizeArtifactKey(ref, indexedName('neighbours', c));
export const batchKey = (ref: GroupRef, b: number) => harmonizeArtifactKey(ref, indexedName('batch', b));
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

/**
 * Heartbeats every 2 s while `fn` runs, so a dead worker's attempt is retried soon (regular
 * activities; a local activity is retried with its workflow task instead).
 */
export async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
    if (ctx.info.isLocal) ctx = undefined;
  } catch {
    // called outside an activity (unit tests): nothing to heartbeat
  }
  const timer = ctx ? setInterval(() => ctx.heartbeat(), 2000) : undefined;
  try {
    return await fn();
  } finally {
    if (timer) clearInterval(timer);
  }
}

export function createHarmonizationActivities(deps: HarmonizationDeps) {
  const { receipts, runs, chroma, objects, outlierDecisions, truthFile } = deps;
  return {
    /** Validates a run's input: label types known, rules in range. Bad input is not retried. */
    async validateHarmonizeInput(input: {
      labelTypes?: string[];
      rules: SkipRules;
      batchSize: number;
    }): Promise<{ labelTypes: Label[] }> {
      const problems = skipRuleProblems(input.rules);
      const unknown = (input.labelTypes ?? []).filter((l) => !(LABELS as readonly string[]).includes(l));
      if (unknown.length)
        problems.push(`unknown label types: ${unknown.join(', ')} (known: ${LABELS.join(', ')})`);
      if (!Number.isInteger(input.batchSize) || input.batchSize < 1)
        problems.push(`batchSize must be an integer >= 1, got ${input.batchSize}`);
      if (problems.length)
        throw ApplicationFailure.nonRetryable(
          `Invalid harmonize input: ${problems.join('; ')}`,
          'InvalidInput',
        );
      return { labelTypes: input.labelTypes?.length ? (input.labelTypes as Label[]) : [...LABELS] };
    },

    /**
     * Loads the group's words (GSI1, no scan), compares each with its Chroma record, fixes stale
     * metadata in place and lists the words to (re)embed; writes `words.json`.
     */
    async prepareHarmonizeGroup(
      input: GroupRef & { embedBatchSize: number; neighbourChunkSize: number; exactNeighboursMax: number },
    ): Promise<PreparedGroup> {
      return heartbeating(async () => {
        const items = await receipts.listLabelledWords(input.merchantId, input.label);
        if (items.length === 0)
          return {
            words: 0,
            toEmbed: 0,
            embedBatches: 0,
            neighbourChunks: 0,
            exactNeighbours: true,
            metadataUpdated: 0,
          };
        const merchant = await receipts.get(keys.merchant(input.merchantId));
        const groupWords: GroupWord[] = items.map((i) => {
          const wordId = String(i.wordId);
          const record = wordChromaRecord({
            wordId,
            receiptId: parseWordId(wordId).receiptId,
            merchantId: input.merchantId,
            text: String(i.text),
            ...(typeof i.lineText === 'string' ? { lineText: i.lineText } : {}),
            wordIndex: Number(i.wordIndex),
            label: String(i.label),
            ...(i.validationStatus ? { validationStatus: String(i.validationStatus) } : {}),
          });
          return {
            ...record,
            text: String(i.text),
            ...(typeof i.harmonizerOutlier === 'boolean' ? { previousOutlier: i.harmonizerOutlier } : {}),
          };
        });
        const stored = await chroma.get(
          'WORD',
          groupWords.map((w) => w.id),
        );
        const toEmbed: string[] = [];
        const staleMetadata: ChromaRecord[] = [];
        for (const w of groupWords) {
          const s = stored.get(w.id);
          if (!sameDocument(s, w)) toEmbed.push(w.id);
          else if (!sameMetadata(s, w)) staleMetadata.push(w);
        }
        if (staleMetadata.length) await chroma.updateMetadata('WORD', staleMetadata);
        const file: WordsFile = {
          merchantName: String(merchant?.name ?? input.merchantId),
          words: groupWords,
          toEmbed,
        };
        await putJson(objects, wordsKey(input), file);
        const exact = groupWords.length <= input.exactNeighboursMax;
        return {
          words: groupWords.length,
          toEmbed: toEmbed.length,
          embedBatches: Math.ceil(toEmbed.length / input.embedBatchSize),
          neighbourChunks: exact ? 1 : Math.ceil(groupWords.length / input.neighbourChunkSize),
          exactNeighbours: exact,
          metadataUpdated: staleMetadata.length,
        };
      });
    },

    /** Applies one embedding delta (written by `embedWords`) to Chroma: an idempotent upsert. */
    async upsertWordEmbeddings(input: GroupRef & { batchIndex: number }): Promise<{ upserted: number }> {
      return heartbeating(async () => {
        const text = await objects.getText(embedDeltaKey(input, input.batchIndex));
        if (text === undefined)
          throw ApplicationFailure.nonRetryable(
            `Embedding delta ${embedDeltaKey(input, input.batchIndex)} is missing`,
            'HarmonizeArtifactMissing',
          );
        const records = parseDeltaNdjson(text);
        await chroma.upsert('WORD', records);
        return { upserted: records.length };
      });
    },

    /**
     * For one chunk of the group's words: their vectors from Chroma, the nearest words with the
     * same label at the same merchant (exact over the group's vectors, or Chroma's index for very
     * large groups), and the skip-rule verdict; writes `neighbours-<c>.json`.
     */
    async findWordNeighbours(
      input: GroupRef & { chunkIndex: number; chunkSize: number; exact: boolean; rules: SkipRules },
    ): Promise<Record<NeighbourEntry['verdict'], number>> {
      return heartbeating(async () => {
        const file = await getJson<WordsFile>(objects, wordsKey(input));
        const k = Math.max(input.rules.consistentNeighbours, PROMPT_NEIGHBOURS);
        const chunkWords = input.exact
          ? file.words
          : file.words.slice(input.chunkIndex * input.chunkSize, (input.chunkIndex + 1) * input.chunkSize);
        const vectors = await chroma.get(
          'WORD',
          chunkWords.map((w) => w.id),
          { vectors: true },
        );
        const present = chunkWords.filter((w) => vectors.get(w.id)?.vector);
        const presentVectors = present.map((w) => vectors.get(w.id)!.vector!);
        const neighboursOf = new Map<string, Array<{ id: string; document: string; similarity: number }>>();
        if (input.exact) {
          // Seconds of CPU for a large group: sliced, so heartbeats and permit renewals keep running.
          (await exactNeighboursYielding(presentVectors, k)).forEach((hits, i) =>
            neighboursOf.set(
              present[i]!.id,
              hits.map((h) => ({
                id: present[h.index]!.id,
                document: present[h.index]!.document,
                similarity: h.similarity,
              })),
            ),
          );
        } else {
          const results = await chroma.query(
            'WORD',
            presentVectors,
            { merchantId: input.merchantId, label: input.label },
            k + 1,
          );
          present.forEach((w, i) =>
            neighboursOf.set(
              w.id,
              (results[i] ?? []).filter((nb) => nb.id !== w.id),
            ),
          );
        }
        const counts = { consistent: 0, isolated: 0, decide: 0, missing: 0 };
        // Verdicts are judged over the chunk's words together (the whole group when neighbours are
        // exact): "isolated" needs a group whose label has a settled form (domain/harmonization.ts).
        const embedded = chunkWords.filter((w) => neighboursOf.has(w.id));
        const verdictOf = new Map(
          groupVerdicts(
            embedded.map((w) => neighboursOf.get(w.id)!.map((nb) => nb.similarity)),
            input.rules,
          ).map((v, i) => [embedded[i]!.id, v]),
        );
        const entries: NeighbourEntry[] = chunkWords.map((w) => {
          const others = neighboursOf.get(w.id);
          if (!others) {
            counts.missing++;
            return { wordId: w.id, verdict: 'missing', similar: 0, nearest: null, neighbours: [] };
          }
          const similarities = others.map((nb) => nb.similarity);
          const verdict = verdictOf.get(w.id)!;
          counts[verdict]++;
          return {
            wordId: w.id,
            verdict,
            similar: similarities.filter((s) => s >= input.rules.similarity).length,
            nearest: similarities.length ? round(Math.max(...similarities)) : null,
            neighbours: others
              .slice(0, PROMPT_NEIGHBOURS)
              .map((nb) => ({ text: nb.document, similarity: round(nb.similarity) })),
          };
        });
        await putJson(objects, neighboursKey(input, input.chunkIndex), entries);
        return counts;
      });
    },

    /**
     * Turns verdicts into a plan: rule-decided words, words served by the decision cache (unless
     * `noCache`), and the rest deduplicated by decision key into LLM batches of `batchSize`.
     */
    async planOutlierDecisions(
      input: GroupRef & { neighbourChunks: number; batchSize: number; noCache: boolean },
    ): Promise<PlanSummary> {
      return heartbeating(async () => {
        const file = await getJson<WordsFile>(objects, wordsKey(input));
        const entries: NeighbourEntry[] = [];
        for (let c = 0; c < input.neighbourChunks; c++)
          entries.push(...(await getJson<NeighbourEntry[]>(objects, neighboursKey(input, c))));
        const neighboursOf = new Map(entries.map((e) => [e.wordId, e]));
        const summary: PlanSummary = {
          batches: 0,
          consistent: 0,
          isolated: 0,
          cached: 0,
          llm: 0,
          shared: 0,
          missing: 0,
        };
        const undecided: Array<{ word: GroupWord; key: string; entry: NeighbourEntry }> = [];
        const plan: PlanFile = { words: [], cached: {} };
        for (const word of file.words) {
          const entry = neighboursOf.get(word.id);
          const verdict = entry?.verdict ?? 'missing';
          if (verdict === 'decide') {
            undecided.push({
              word,
              key: decisionKey(input.merchantId, input.label, word.document),
              entry: entry!,
            });
          } else {
            plan.words.push({ wordId: word.id, rule: verdict });
            summary[verdict]++;
          }
        }
        const cached = input.noCache
          ? new Map<string, OutlierDecision>()
          : await outlierDecisions.getMany(undecided.map((u) => u.key));
        const batches = decisionBatches(
          undecided.filter((u) => !cached.has(u.key)),
          input.batchSize,
        );
        const representatives = new Set(batches.flat().map((u) => u.word.id));
        for (const u of undecided) {
          const rule: DecisionRule = cached.has(u.key)
            ? 'cached'
            : representatives.has(u.word.id)
              ? 'llm'
              : 'shared';
          if (rule === 'cached') plan.cached[u.key] = cached.get(u.key)!;
          plan.words.push({ wordId: u.word.id, rule, key: u.key });
          summary[rule]++;
        }
        for (const [b, batch] of batches.entries()) {
          const content: DecisionBatchFile = {
            merchantName: file.merchantName,
            label: input.label,
            items: batch.map((u) => ({
              id: u.word.id,
              text: u.word.text,
              label: input.label,
              context: u.word.document,
              neighbours: u.entry.neighbours,
            })),
            keys: batch.map((u) => u.key),
          };
          await putJson(objects, batchKey(input, b), content);
        }
        await putJson(objects, planKey(input), plan);
        summary.batches = batches.length;
        return summary;
      });
    },

    /**
     * Saves the group: a RESULT per word (decision, rule), new decisions into the cache, changed
     * verdicts onto the word items; then keeps only `summary.json` of the group's files. A retry
     * after that returns the summary.
     */
    async saveHarmonizeResults(
      input: GroupRef & {
        batches: number;
        failedBatches: FailedBatch[];
        failedEmbedBatches: FailedBatch[];
      },
    ): Promise<GroupSummary> {
      return heartbeating(async () => {
        const done = await objects.getText(summaryKey(input));
        if (done !== undefined) return JSON.parse(done) as GroupSummary;
        const file = await getJson<WordsFile>(objects, wordsKey(input));
        const plan = await getJson<PlanFile>(objects, planKey(input));
        const failedBatch = new Map(input.failedBatches.map((f) => [f.batchIndex, f.reason]));
        const decided = new Map<string, OutlierDecision>(Object.entries(plan.cached));
        const fresh: Array<{ key: string; decision: OutlierDecision }> = [];
        const failedKeys = new Map<string, string>();
        for (let b = 0; b < input.batches; b++) {
          const reason = failedBatch.get(b);
          if (reason !== undefined) {
            const batch = await getJson<DecisionBatchFile>(objects, batchKey(input, b));
            for (const key of batch.keys) failedKeys.set(key, `LLM batch ${b} failed: ${reason}`);
            continue;
          }
          const d = await getJson<DecisionsFile>(objects, decisionsKey(input, b));
          for (const { key, outlier, suggestedLabel, reason: why } of d.decisions) {
            const decision = { outlier, suggestedLabel, reason: why };
            decided.set(key, decision);
            fresh.push({ key, decision });
          }
        }
        const textOf = new Map(file.words.map((w) => [w.id, w]));
        const missingReason = input.failedEmbedBatches.length
          ? `no embedding (embedding failed: ${input.failedEmbedBatches.map((f) => f.reason).join('; ')})`.slice(
              0,
              500,
            )
          : 'no embedding in Chroma';
        const at = Date.now();
        const summary: GroupSummary = {
          merchantId: input.merchantId,
          label: input.label,
          words: plan.words.length,
          succeeded: 0,
          failed: 0,
          outliers: 0,
          consistent: 0,
          isolated: 0,
          cached: 0,
          llm: 0,
          shared: 0,
          batches: input.batches,
          failedBatches: input.failedBatches.length,
          verdictsChanged: 0,
        };
        const results: ItemResult[] = [];
        const changed: Array<OutlierDecision & { wordId: string }> = [];
        for (const w of plan.words) {
          let decision: OutlierDecision | undefined;
          let reason: string | undefined;
          if (w.rule === 'consistent')
            decision = {
              outlier: false,
              suggestedLabel: null,
              reason: 'Many similar words carry this label here.',
            };
          else if (w.rule === 'isolated')
            decision = {
              outlier: true,
              suggestedLabel: null,
              reason: 'Unlike every other word with this label at this merchant.',
            };
          else if (w.rule === 'missing') reason = missingReason;
          else {
            decision = decided.get(w.key!);
            if (!decision) reason = failedKeys.get(w.key!) ?? 'no decision recorded for this word';
          }
          const base = { merchantId: input.merchantId, label: input.label, rule: w.rule };
          if (!decision) {
            summary.failed++;
            results.push({
              runId: input.runId,
              itemId: w.wordId,
              status: 'FAILED',
              reason: reason!,
              detail: base,
              attempt: 1,
              at,
            });
            continue;
          }
          summary.succeeded++;
          if (w.rule !== 'missing') summary[w.rule]++;
          if (decision.outlier) summary.outliers++;
          results.push({
            runId: input.runId,
            itemId: w.wordId,
            status: 'SUCCEEDED',
            detail: {
              ...base,
              outlier: decision.outlier,
              ...(decision.suggestedLabel ? { suggestedLabel: decision.suggestedLabel } : {}),
            },
            attempt: 1,
            at,
          });
          if (decision.outlier !== (textOf.get(w.wordId)?.previousOutlier ?? false))
            changed.push({ wordId: w.wordId, ...decision });
        }
        await outlierDecisions.putMany(fresh);
        await runs.putResults(results);
        await receipts.setOutlierVerdicts(input.runId, changed);
        summary.verdictsChanged = changed.length;
        await putJson(objects, summaryKey(input), summary);
        // The hand-off files served their purpose; the summary answers a retry of this activity.
        for (const key of await objects.list(harmonizeArtifactPrefix(input)))
          if (key !== summaryKey(input)) await objects.delete(key);
        return summary;
      });
    },

    /** Aggregates per-word results and LLM call records; scores against the planted errors. */
    async buildHarmonizeReport(input: {
      runId: string;
      status: string;
      makespanMs: number;
      groups: number;
      failedBatches: number;
    }): Promise<HarmonizeReport> {
      return heartbeating(async () => {
        const [results, calls, truth] = await Promise.all([
          runs.listResults(input.runId),
          runs.listCalls(input.runId),
          readTruth(truthFile),
        ]);
        const report = harmonizeReportOf(input, results, calls);
        const planted = truth?.planted;
        if (planted && Object.keys(planted).length > 0) {
          const harmonized = new Set(results.filter(isWordResult).map((r) => r.itemId));
          const plantedHere = Object.keys(planted).filter((w) => harmonized.has(w));
          // An outlier verdict is the harmonizer's "INVALID": scored like the evaluation's decisions.
          const decisions = results.filter(isWordResult).map((r) => ({
            wordId: r.itemId,
            decision: r.detail?.outlier === true ? ('INVALID' as const) : ('VALID' as const),
          }));
          const score = scoreDecisions(decisions, new Set(plantedHere));
          report.scores = {
            precision: round(score.precision),
            recall: round(score.recall),
            planted: plantedHere.length,
          };
        }
        await runs.finishRun(
          input.runId,
          report as unknown as Record<string, unknown>,
          input.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED',
        );
        return report;
      });
    },
  };
}

function isWordResult(r: ItemResult): boolean {
  return typeof r.detail?.rule === 'string';
}

/** The report's figures from a run's results and call records (pure; scores are added after). */
export function harmonizeReportOf(
  input: { runId: string; status: string; makespanMs: number; groups: number; failedBatches: number },
  results: readonly ItemResult[],
  calls: readonly CallRecord[],
): HarmonizeReport {
  const wordResults = results.filter(isWordResult);
  const rules = new Map<string, number>();
  for (const r of wordResults) {
    if (r.status !== 'SUCCEEDED') continue;
    const rule = String(r.detail?.rule);
    rules.set(rule, (rules.get(rule) ?? 0) + 1);
  }
  const decisionCalls = calls.filter((c) => c.task === 'label_outlier' && c.status !== 'cache_hit').length;
  // Calls that reached the provider: a batch whose every text had a cached vector is a cache_hit.
  const embedCalls = calls.filter((c) => c.task === 'embed' && c.status !== 'cache_hit').length;
  const failedResults = results.filter((r) => r.status === 'FAILED');
  return {
    runId: input.runId,
    pipeline: 'harmonize',
    status: input.status,
    total: results.length,
    succeeded: results.length - failedResults.length,
    failed: failedResults.length,
    words: wordResults.length,
    outliers: wordResults.filter((r) => r.detail?.outlier === true).length,
    skipped: {
      consistentByNeighbours: rules.get('consistent') ?? 0,
      outlierNoNeighbours: rules.get('isolated') ?? 0,
      cached: rules.get('cached') ?? 0,
      sameTextInRun: rules.get('shared') ?? 0,
    },
    llmDecided: rules.get('llm') ?? 0,
    llmCalls: { outlierDecisions: decisionCalls, embeddings: embedCalls },
    callsPer1000Words: wordResults.length ? round((decisionCalls * 1000) / wordResults.length) : 0,
    groups: input.groups,
    failedBatches: input.failedBatches,
    failures: failedResults.slice(0, 20).map((r) => ({ itemId: r.itemId, reason: r.reason ?? 'unknown' })),
    llm: summarizeCalls([...calls]),
    makespanMs: input.makespanMs,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
