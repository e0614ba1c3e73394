// OpenAI Files API state of the emulator: uploaded batch input files and the batch output and
// error files the batch runner writes, in memory, with OpenAI's file objects and errors.
import { BadRequestError } from './http-util';
import { hashParts, hex8 } from './random';

export const FILE_PURPOSES = [
  'batch',
  'batch_output',
  'fine-tune',
  'assistants',
  'user_data',
  'evals',
  'vision',
] as const;

export interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  status_details: null;
  expires_at: number | null;
  content: Buffer;
}

/** Unique ids that look like OpenAI's: a hash (of this process's start and a counter) plus the counter. */
export class IdSource {
  private n = 0;
  constructor(private readonly salt = Date.now()) {}
  next(prefix: string): string {
    this.n++;
    return `${prefix}${hex8(hashParts(this.salt, prefix, this.n))}${this.n.toString(16).padStart(6, '0')}`;
  }
}

export function fileObject(f: StoredFile) {
  return {
    id: f.id,
    object: f.object,
    bytes: f.bytes,
    created_at: f.created_at,
    filename: f.filename,
    purpose: f.purpose,
    status: f.status,
    status_details: f.status_details,
    expires_at: f.expires_at,
  };
}

const sec = (ms: number) => Math.floor(ms / 1000);

/** The files of one emulator: created, read, listed newest first, deleted. */
export class FileStore {
  private readonly files = new Map<string, StoredFile>();

  constructor(
    private readonly ids: IdSource,
    private readonly now: () => number = Date.now,
  ) {}

  createFile(content: Buffer, filename: string, purpose: string): StoredFile {
    if (!(FILE_PURPOSES as readonly string[]).includes(purpose)) {
      throw new BadRequestError(
        `Invalid purpose '${purpose}'. Expected one of: ${FILE_PURPOSES.join(', ')}.`,
        400,
        'purpose',
        'invalid_value',
      );
    }
    const file: StoredFile = {
      id: this.ids.next('file-'),
      object: 'file',
      bytes: content.length,
      created_at: sec(this.now()),
      filename,
      purpose,
      status: 'processed',
      status_details: null,
      expires_at: null,
      content,
    };
    this.files.set(file.id, file);
    return file;
  }

  getFile(id: string): StoredFile {
    const f = this.files.get(id);
    if (!f) throw new BadRequestError(`No such File object: ${id}`, 404, 'id', null);
    return f;
  }

  listFiles(purpose?: string): StoredFile[] {
    return [...this.files.values()].filter((f) => purpose === undefined || f.purpose === purpose).reverse();
  }

  deleteFile(id: string): { id: string; object: 'file'; deleted: true } {
    this.getFile(id);
    this.files.delete(id);
    return { id, object: 'file', deleted: true };
  }
}
