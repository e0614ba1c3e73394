// Where a run's test files come from: a local folder or an S3 prefix, exactly one of them.
import type { S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import { localTestFiles, s3TestFiles, type TestFileSource } from '../../stores/test-files';
import type { ScanTestSuiteInput } from './types';

/** The input's file source; bad or missing input fails as InvalidInput (not retried). */
export function testFileSourceOf(
  input: Pick<ScanTestSuiteInput, 'path' | 's3Prefix' | 's3Bucket'>,
  s3: S3Client | undefined,
  defaultBucket: string | undefined,
): TestFileSource {
  if (input.path && input.s3Prefix !== undefined)
    throw ApplicationFailure.nonRetryable('Give a folder or an S3 prefix, not both', 'InvalidInput');
  if (input.path) return localTestFiles(input.path);
  if (input.s3Prefix !== undefined) {
    const bucket = input.s3Bucket ?? defaultBucket;
    if (!s3 || !bucket)
      throw ApplicationFailure.nonRetryable('This worker has no S3 client configured', 'InvalidInput');
    return s3TestFiles(s3, bucket, input.s3Prefix);
  }
  throw ApplicationFailure.nonRetryable('Nothing to analyze: give a folder or an S3 prefix', 'InvalidInput');
}
