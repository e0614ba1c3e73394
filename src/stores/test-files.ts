// Where the quality analysis reads test files from: a local folder or an S3 prefix. Paths come
// out relative to the root (forward slashes), because they are part of every test function's id.
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { testLanguageOf } from '../domain/quality';

/** Files larger than this are reported unreadable rather than parsed. */
export const MAX_TEST_FILE_BYTES = 1_000_000;
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'build', '.venv', 'venv', '__pycache__']);

export interface TestFileSource {
  /** Where the files come from, for messages. */
  readonly location: string;
  /** Test files (by name) under the root, relative, sorted. */
  list(): Promise<string[]>;
  read(relPath: string): Promise<string>;
}

export class TestFileError extends Error {
  override name = 'TestFileError';
}

export function localTestFiles(root: string): TestFileSource {
  const abs = path.resolve(root);
  return {
    location: abs,
    async list() {
      const stat = await fs.stat(abs).catch(() => undefined);
      if (!stat?.isDirectory()) throw new TestFileError(`${abs} is not a folder`);
      const out: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        for (const e of await fs.readdir(dir, { withFileTypes: true })) {
          const full = path.join(dir, e.name);
          if (e.isDirectory()) {
            if (!SKIPPED_DIRS.has(e.name)) await walk(full);
          } else if (e.isFile()) {
            const rel = path.relative(abs, full).split(path.sep).join('/');
            if (testLanguageOf(rel)) out.push(rel);
          }
        }
      };
      await walk(abs);
      return out.sort();
    },
    async read(rel) {
      const full = path.join(abs, rel);
      const { size } = await fs.stat(full);
      if (size > MAX_TEST_FILE_BYTES)
        throw new TestFileError(`${rel} is larger than ${MAX_TEST_FILE_BYTES} bytes`);
      return fs.readFile(full, 'utf8');
    },
  };
}

export function s3TestFiles(s3: S3Client, bucket: string, prefix: string): TestFileSource {
  const base = prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
  return {
    location: `s3://${bucket}/${base}`,
    async list() {
      const out: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const r = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: base, ContinuationToken }),
        );
        for (const o of r.Contents ?? []) {
          const rel = o.Key?.slice(base.length);
          if (!rel || !testLanguageOf(rel)) continue;
          if (rel.split('/').some((part) => SKIPPED_DIRS.has(part))) continue;
          out.push(rel);
        }
        ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return out.sort();
    },
    async read(rel) {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: base + rel }));
      if ((r.ContentLength ?? 0) > MAX_TEST_FILE_BYTES) {
        (r.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new TestFileError(`${rel} is larger than ${MAX_TEST_FILE_BYTES} bytes`);
      }
      return (await r.Body?.transformToString('utf8')) ?? '';
    },
  };
}
