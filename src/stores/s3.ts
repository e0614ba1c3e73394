// S3 objects of the pipelines (batch input files, embedding deltas, snapshots): text in, text out.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { validS3Key } from '../domain/ids';

/** Every key (and listed prefix) is validated here, the one gate to the pipelines' bucket. */
export class ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async putText(key: string, body: string, contentType = 'application/x-ndjson'): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: validS3Key(key),
        Body: body,
        ContentType: contentType,
      }),
    );
  }

  /** The object's text, or undefined when there is no such key. */
  async getText(key: string): Promise<string | undefined> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: validS3Key(key) }));
      return (await r.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (err instanceof NoSuchKey || (err as Error).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /** Deleting a missing key is not an error (S3 semantics), so deletes are idempotent. */
  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: validS3Key(key) }));
  }

  /** Every key under a prefix (paginated). */
  async list(prefix: string): Promise<string[]> {
    if (prefix !== '') validS3Key(prefix);
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const r = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken }),
      );
      for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return keys;
  }
}
