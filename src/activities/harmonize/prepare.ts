// A group's first step: its words loaded (GSI1, no scan) and compared with their Chroma records;
// stale metadata fixed in place, the words to (re)embed listed in `words.json`.
import { sameDocument, sameMetadata, wordChromaRecord, type ChromaRecord } from '../../stores/chroma';
import { keys, parseWordId } from '../../stores/receipts';
import { heartbeating } from '../shared/heartbeating';
import type { HarmonizationDeps } from './deps';
import { putJson, wordsKey } from './s3-keys';
import type { GroupRef, GroupWord, PreparedGroup, WordsFile } from './types';

export interface PrepareGroupInput extends GroupRef {
  embedBatchSize: number;
  neighbourChunkSize: number;
  exactNeighboursMax: number;
}

const EMPTY_GROUP: PreparedGroup = {
  words: 0,
  toEmbed: 0,
  embedBatches: 0,
  neighbourChunks: 0,
  exactNeighbours: true,
  metadataUpdated: 0,
};

/** A labelled word item as the group's files carry it: its Chroma record, text, earlier verdict. */
function groupWordOf(item: Record<string, unknown>, merchantId: string): GroupWord {
  const wordId = String(item.wordId);
  const record = wordChromaRecord({
    wordId,
    receiptId: parseWordId(wordId).receiptId,
    merchantId,
    text: String(item.text),
    ...(typeof item.lineText === 'string' ? { lineText: item.lineText } : {}),
    wordIndex: Number(item.wordIndex),
    label: String(item.label),
    ...(item.validationStatus ? { validationStatus: String(item.validationStatus) } : {}),
  });
  return {
    ...record,
    text: String(item.text),
    ...(typeof item.harmonizerOutlier === 'boolean' ? { previousOutlier: item.harmonizerOutlier } : {}),
  };
}

export function createPrepareActivities({ receipts, chroma, objects }: HarmonizationDeps) {
  return {
    /**
     * Loads the group's words (GSI1, no scan), compares each with its Chroma record, fixes stale
     * metadata in place and lists the words to (re)embed; writes `words.json`.
     */
    async prepareHarmonizeGroup(input: PrepareGroupInput): Promise<PreparedGroup> {
      return heartbeating(async () => {
        const items = await receipts.listLabelledWords(input.merchantId, input.label);
        if (items.length === 0) return { ...EMPTY_GROUP };
        const merchant = await receipts.get(keys.merchant(input.merchantId));
        const groupWords = items.map((i) => groupWordOf(i, input.merchantId));
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
  };
}
