// Chroma vector store: one collection per kind (`words`, `lines`, name prefix configurable), cosine
// space, vectors always supplied by us (no embedding function, so the client never loads a model).
// Shared by every pipeline that writes or reads vectors (harmonizer, embedding compaction).
import { ChromaClient, type Collection, type Metadata, type Where } from 'chromadb';
import { lineEmbeddingText, wordEmbeddingText } from '../domain/embedding-text';

export type ChromaKind = 'WORD' | 'LINE';

const COLLECTION_OF: Record<ChromaKind, string> = { WORD: 'words', LINE: 'lines' };

/** A record's scalar metadata (Chroma refuses null: absent values are written as 'NONE'). */
export type RecordMetadata = Record<string, string | number | boolean>;

/** A Chroma record without its vector: what one function per kind builds from a DynamoDB item. */
export interface ChromaRecord {
  id: string;
  /** The text the vector was computed from. */
  document: string;
  metadata: RecordMetadata;
}

/** A record with its vector (the shape of an embedding delta line, too). */
export interface EmbeddedRecord extends ChromaRecord {
  vector: number[];
}

export interface WordRecordSource {
  wordId: string;
  receiptId: string;
  merchantId: string;
  text: string;
  /** Text of the word's line and the word's index in it: the context it is embedded with. */
  lineText?: string;
  wordIndex?: number;
  label?: string;
  validationStatus?: string;
}

/**
 * A word's Chroma record: id = wordId, document = the text embedded (the word in its context, see
 * domain/embedding-text.ts), metadata {merchantId, receiptId, label, validationStatus, text}.
 */
export function wordChromaRecord(w: WordRecordSource): ChromaRecord {
  return {
    id: w.wordId,
    document: wordEmbeddingText(w.text, w.lineText, w.wordIndex),
    metadata: {
      merchantId: w.merchantId,
      receiptId: w.receiptId,
      label: w.label ?? 'NONE',
      validationStatus: w.validationStatus ?? 'NONE',
      text: w.text,
    },
  };
}

export function lineChromaRecord(l: {
  lineId: string;
  receiptId: string;
  merchantId: string;
  lineIndex: number;
  text: string;
}): ChromaRecord {
  return {
    id: l.lineId,
    document: lineEmbeddingText(l.text),
    metadata: { merchantId: l.merchantId, receiptId: l.receiptId, lineIndex: l.lineIndex },
  };
}

/** True when a stored record already says what `wanted` says (document and every metadata field). */
export function sameRecord(stored: ChromaRecord | undefined, wanted: ChromaRecord): boolean {
  return sameDocument(stored, wanted) && sameMetadata(stored, wanted);
}

export function sameDocument(stored: ChromaRecord | undefined, wanted: ChromaRecord): boolean {
  return stored !== undefined && stored.document === wanted.document;
}

export function sameMetadata(stored: ChromaRecord | undefined, wanted: ChromaRecord): boolean {
  return stored !== undefined && Object.entries(wanted.metadata).every(([k, v]) => stored.metadata[k] === v);
}

export interface Neighbour extends ChromaRecord {
  /** Cosine similarity to the query vector (1 - cosine distance). */
  similarity: number;
}

export interface ChromaStoreOptions {
  /** Server URL, e.g. http://127.0.0.1:8100 (CHROMA_URL / CHROMA_PORT). */
  url: string;
  /** Prefix of every collection name (CHROMA_COLLECTION_PREFIX; tests isolate with it). @default '' */
  prefix?: string;
  /** Records per upsert/get request. @default 200 */
  writeChunk?: number;
  /** Query vectors per request. @default 100 */
  queryChunk?: number;
}

export class ChromaStore {
  private readonly client: ChromaClient;
  private readonly collections = new Map<ChromaKind, Promise<Collection>>();
  private readonly prefix: string;
  private readonly writeChunk: number;
  private readonly queryChunk: number;

  constructor(opts: ChromaStoreOptions) {
    const url = new URL(opts.url);
    const ssl = url.protocol === 'https:';
    this.client = new ChromaClient({
      host: url.hostname,
      port: url.port ? Number(url.port) : ssl ? 443 : 80,
      ssl,
    });
    this.prefix = opts.prefix ?? '';
    this.writeChunk = opts.writeChunk ?? 200;
    this.queryChunk = opts.queryChunk ?? 100;
  }

  collectionName(kind: ChromaKind): string {
    return `${this.prefix}${COLLECTION_OF[kind]}`;
  }

  private collection(kind: ChromaKind): Promise<Collection> {
    let c = this.collections.get(kind);
    if (!c) {
      c = this.client.getOrCreateCollection({
        name: this.collectionName(kind),
        embeddingFunction: null,
        configuration: { hnsw: { space: 'cosine' } },
      });
      // A failed attempt (server down) is not cached: the next call tries again.
      c.catch(() => this.collections.delete(kind));
      this.collections.set(kind, c);
    }
    return c;
  }

  /** Inserts or replaces records with their vectors, in chunks (idempotent). */
  async upsert(kind: ChromaKind, records: readonly EmbeddedRecord[]): Promise<void> {
    const col = await this.collection(kind);
    for (let i = 0; i < records.length; i += this.writeChunk) {
      const part = records.slice(i, i + this.writeChunk);
      await col.upsert({
        ids: part.map((r) => r.id),
        embeddings: part.map((r) => r.vector),
        documents: part.map((r) => r.document),
        metadatas: part.map((r) => r.metadata as Metadata),
      });
    }
  }

  /** Rewrites the metadata of records whose document (so vector) is unchanged. */
  async updateMetadata(kind: ChromaKind, records: readonly ChromaRecord[]): Promise<void> {
    const col = await this.collection(kind);
    for (let i = 0; i < records.length; i += this.writeChunk) {
      const part = records.slice(i, i + this.writeChunk);
      await col.update({ ids: part.map((r) => r.id), metadatas: part.map((r) => r.metadata as Metadata) });
    }
  }

  /** The stored records among `ids` (absent ones are missing from the map), optionally with vectors. */
  async get(
    kind: ChromaKind,
    ids: readonly string[],
    opts: { vectors?: boolean } = {},
  ): Promise<Map<string, ChromaRecord & { vector?: number[] }>> {
    const col = await this.collection(kind);
    const out = new Map<string, ChromaRecord & { vector?: number[] }>();
    for (let i = 0; i < ids.length; i += this.writeChunk) {
      const r = await col.get({
        ids: ids.slice(i, i + this.writeChunk),
        include: opts.vectors ? ['documents', 'metadatas', 'embeddings'] : ['documents', 'metadatas'],
      });
      r.ids.forEach((id, j) => {
        const vector = r.embeddings[j];
        out.set(id, {
          id,
          document: r.documents[j] ?? '',
          metadata: (r.metadatas[j] ?? {}) as RecordMetadata,
          ...(opts.vectors && vector ? { vector: Array.from(vector) } : {}),
        });
      });
    }
    return out;
  }

  /**
   * The `n` nearest records to each vector among those matching every `where` field (equality),
   * nearest first.
   */
  async query(
    kind: ChromaKind,
    vectors: readonly number[][],
    where: Record<string, string>,
    n: number,
  ): Promise<Neighbour[][]> {
    const col = await this.collection(kind);
    const conditions = Object.entries(where).map(([k, v]) => ({ [k]: v }));
    const filter: Where | undefined =
      conditions.length === 0 ? undefined : conditions.length === 1 ? conditions[0] : { $and: conditions };
    const out: Neighbour[][] = [];
    for (let i = 0; i < vectors.length; i += this.queryChunk) {
      const r = await col.query({
        queryEmbeddings: vectors.slice(i, i + this.queryChunk) as number[][],
        nResults: n,
        ...(filter ? { where: filter } : {}),
        include: ['documents', 'metadatas', 'distances'],
      });
      r.ids.forEach((ids, q) =>
        out.push(
          ids.map((id, j) => ({
            id,
            document: r.documents[q]?.[j] ?? '',
            metadata: (r.metadatas[q]?.[j] ?? {}) as RecordMetadata,
            similarity: 1 - (r.distances[q]?.[j] ?? 1),
          })),
        ),
      );
    }
    return out;
  }

  async count(kind: ChromaKind): Promise<number> {
    return (await this.collection(kind)).count();
  }

  /** `limit` records with their vectors from `offset`, in the collection's order (snapshot export). */
  async page(
    kind: ChromaKind,
    offset: number,
    limit: number,
  ): Promise<Array<EmbeddedRecord & { kind: ChromaKind }>> {
    const col = await this.collection(kind);
    const r = await col.get({ offset, limit, include: ['documents', 'metadatas', 'embeddings'] });
    return r.ids.map((id, j) => ({
      kind,
      id,
      document: r.documents[j] ?? '',
      metadata: (r.metadatas[j] ?? {}) as RecordMetadata,
      vector: Array.from(r.embeddings[j] ?? []),
    }));
  }

  /** Drops this prefix's collections (tests clean up with it); missing ones are not an error. */
  async deleteCollections(): Promise<void> {
    for (const kind of Object.keys(COLLECTION_OF) as ChromaKind[]) {
      this.collections.delete(kind);
      try {
        await this.client.deleteCollection({ name: this.collectionName(kind) });
      } catch (err) {
        if ((err as Error).name !== 'ChromaNotFoundError') throw err;
      }
    }
  }
}
