// Small helpers over node:http shared by the Ollama, OpenAI and control routes.
import type http from 'node:http';

/** Largest request body accepted (OpenAI accepts batch input files up to 200 MB). */
export const MAX_BODY_BYTES = 210 * 1024 * 1024;

/** Thrown for a request the emulator cannot even read; answered 4xx in the caller's wire format. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
  constructor(
    message: string,
    readonly status = 400,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** The client closed the connection before its request body arrived; nobody is left to answer. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
  constructor() {
    super('the client closed the connection before sending its whole request');
  }
}

export function readBody(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BadRequestError(`Request body exceeds ${limit} bytes.`, 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that hangs up mid-body never sends 'end': settle anyway so nothing waits forever.
    req.on('close', () => {
      if (!req.complete) reject(new ClientGoneError());
    });
  });
}

/** Parses a JSON object body; anything else is a BadRequestError. */
export async function readJsonObject(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  let value: unknown;
  try {
    value = JSON.parse(raw.length === 0 ? 'null' : raw.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(
      `We could not parse the JSON body of your request (${(err as Error).message}). Send valid JSON with Content-Type: application/json.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError('The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

export type Headers = Record<string, string | number>;

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Headers = {},
): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(
  res: http.ServerResponse,
  status: number,
  text: string | Buffer,
  contentType: string,
  headers: Headers = {},
): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': typeof text === 'string' ? Buffer.byteLength(text) : text.length,
    ...headers,
  });
  res.end(text);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
