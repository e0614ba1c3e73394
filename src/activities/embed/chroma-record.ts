// The Chroma record of a line or word, shared with the harmonizer so a vector never depends on which
// pipeline wrote it.
import type { EmbeddableItem } from '../../stores/embeddings';
import { lineChromaRecord, wordChromaRecord, type ChromaRecord } from '../../stores/chroma';

/**
 * The Chroma record of a line or word: the same builders as the harmonizer's, so the document that
 * is embedded and the metadata stored never depend on which pipeline wrote the vector.
 */
export function chromaRecordOf(item: EmbeddableItem): ChromaRecord {
  return item.kind === 'WORD'
    ? wordChromaRecord({
        wordId: item.id,
        receiptId: item.receiptId,
        merchantId: item.merchantId,
        text: item.text,
        ...(item.lineText !== undefined ? { lineText: item.lineText } : {}),
        ...(item.wordIndex !== undefined ? { wordIndex: item.wordIndex } : {}),
        ...(item.label !== undefined ? { label: item.label } : {}),
        ...(item.validationStatus !== undefined ? { validationStatus: item.validationStatus } : {}),
      })
    : lineChromaRecord({
        lineId: item.id,
        receiptId: item.receiptId,
        merchantId: item.merchantId,
        lineIndex: item.lineIndex,
        text: item.text,
      });
}
