// The OpenAI Files + Batch API (control plane of the embedding pipeline) through the official SDK,
// with its retries off and errors typed like every other provider call (Temporal retries them).
import OpenAI, { toFile } from 'openai';
import type { AppConfig } from '../config';
import { mapOpenAiError } from './openai';

export type Batch = OpenAI.Batches.Batch;

/**
 * The longest a `batches.create` request may take (a small control call; the provider validates the
 * file later). It bounds how long a submission that died while creating holds the step up.
 */
export const CREATE_BATCH_TIMEOUT_MS = 30_000;

/** Where the Batch API lives: OPENAI_BASE_URL, OpenAI itself with a key, else the emulator. */
export function batchApiBaseUrl(cfg: AppConfig): string {
  return cfg.OPENAI_BASE_URL ?? (cfg.OPENAI_API_KEY ? 'https://api.openai.com/v1' : `${cfg.emulatorUrl}/v1`);
}

export class BatchApi {
  private readonly client: OpenAI;

  /**
   * The key stays in this object: never in workflow inputs, history or logs. `callTimeoutMs`: the
   * longest one request may take (it is aborted then).
   */
  constructor(
    baseURL: string,
    apiKey: string,
    readonly callTimeoutMs: number,
  ) {
    this.client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: callTimeoutMs });
  }

  static fromConfig(cfg: AppConfig): BatchApi {
    return new BatchApi(batchApiBaseUrl(cfg), cfg.OPENAI_API_KEY ?? 'emulator', cfg.LLM_CALL_TIMEOUT_MS);
  }

  /** Uploads an NDJSON input file (purpose `batch`); returns its file id. */
  async uploadInputFile(content: string | Buffer, filename: string): Promise<string> {
    return this.call(async () => {
      const file = await this.client.files.create({
        file: await toFile(Buffer.from(content), filename),
        purpose: 'batch',
      });
      return file.id;
    });
  }

  /** The longest a batch-creating request of this client may take (it is aborted then). */
  get createTimeoutMs(): number {
    return Math.min(this.callTimeoutMs, CREATE_BATCH_TIMEOUT_MS);
  }

  async createEmbeddingsBatch(inputFileId: string, metadata: Record<string, string>): Promise<Batch> {
    return this.createBatch(inputFileId, '/v1/embeddings', metadata);
  }

  /** A batch of requests to one endpoint (chat completions in batch mode, embeddings). */
  async createBatch(
    inputFileId: string,
    endpoint: '/v1/embeddings' | '/v1/chat/completions',
    metadata: Record<string, string>,
  ): Promise<Batch> {
    return this.call(() =>
      this.client.batches.create(
        { input_file_id: inputFileId, endpoint, completion_window: '24h', metadata },
        { timeout: this.createTimeoutMs },
      ),
    );
  }

  async retrieve(batchId: string): Promise<Batch> {
    return this.call(() => this.client.batches.retrieve(batchId));
  }

  async cancel(batchId: string): Promise<Batch> {
    return this.call(() => this.client.batches.cancel(batchId));
  }

  /**
   * The batch created from `inputFileId` (or carrying every entry of `metadata`, when given), if
   * any, searching newest first and stopping at batches created before `notBefore` (unix seconds).
   * Lets a retried submission find the batch an earlier attempt created before it could record it,
   * instead of creating a second one.
   */
  async findByInputFile(
    inputFileId: string,
    notBefore: number,
    metadata: Record<string, string> = {},
  ): Promise<Batch | undefined> {
    const tags = Object.entries(metadata);
    const tagged = (b: Batch) => tags.length > 0 && tags.every(([k, v]) => b.metadata?.[k] === v);
    return this.call(async () => {
      let after: string | undefined;
      for (;;) {
        const page = await this.client.batches.list({ limit: 100, ...(after ? { after } : {}) });
        for (const b of page.data) {
          if (b.input_file_id === inputFileId || tagged(b)) return b;
          if (b.created_at < notBefore) return undefined;
        }
        if (!page.has_more || page.data.length === 0) return undefined;
        after = page.data[page.data.length - 1]!.id;
      }
    });
  }

  /**
   * Lines of an output or error file as they download: a full batch's output (50,000 vectors) is far
   * larger than one string may be.
   */
  async *fileLines(fileId: string): AsyncGenerator<string> {
    let res: Response;
    try {
      res = await this.client.files.content(fileId);
    } catch (err) {
      throw mapOpenAiError(err);
    }
    if (!res.body) {
      yield* (await res.text()).split(/\r?\n/);
      return;
    }
    const decoder = new TextDecoder();
    let rest = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
      rest = lines.pop() ?? '';
      yield* lines;
    }
    rest += decoder.decode();
    if (rest) yield rest;
  }

  /** Text of an output or error file (small files). */
  async fileText(fileId: string): Promise<string> {
    return this.call(async () => {
      const res = await this.client.files.content(fileId);
      return res.text();
    });
  }

  async deleteFile(fileId: string): Promise<void> {
    await this.call(() => this.client.files.delete(fileId));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapOpenAiError(err);
    }
  }
}

/** What a poll learns of a batch: its status, request counts, and the first validation errors. */
export interface BatchCheck {
  status: string;
  requestCounts: { total: number; completed: number; failed: number };
  /** Validation errors of a failed batch (first few). */
  errors: string[];
}

export function batchCheckOf(b: Batch): BatchCheck {
  return {
    status: b.status,
    requestCounts: {
      total: b.request_counts?.total ?? 0,
      completed: b.request_counts?.completed ?? 0,
      failed: b.request_counts?.failed ?? 0,
    },
    errors: (b.errors?.data ?? [])
      .slice(0, 5)
      .map((e) => `${e.code ?? 'error'}${e.line ? ` (line ${e.line})` : ''}: ${e.message ?? ''}`),
  };
}
