// Creates the DynamoDB table and the S3 bucket if they are missing (idempotent; run by `stack up`).
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import type { AppConfig } from '../config';
import { createDynamoClient, createS3Client } from './clients';

export async function provision(cfg: AppConfig): Promise<void> {
  await Promise.all([ensureTable(cfg), ensureBucket(cfg)]);
}

export async function ensureTable(cfg: AppConfig): Promise<void> {
  const ddb = createDynamoClient(cfg);
  const TableName = cfg.DYNAMODB_TABLE;
  try {
    await ddb.send(new DescribeTableCommand({ TableName }));
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException) && (err as Error).name !== 'ResourceNotFoundException')
      throw err;
  }
  const gsi = (n: number) => ({
    IndexName: `GSI${n}`,
    KeySchema: [
      { AttributeName: `GSI${n}PK`, KeyType: 'HASH' as const },
      { AttributeName: `GSI${n}SK`, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  try {
    await ddb.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK'].map((AttributeName) => ({
          AttributeName,
          AttributeType: 'S' as const,
        })),
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [gsi(1), gsi(2)],
      }),
    );
  } catch (err) {
    if ((err as Error).name !== 'ResourceInUseException') throw err;
  }
  // dynalite creates tables asynchronously: wait until ACTIVE.
  for (let i = 0; i < 100; i++) {
    const d = await ddb.send(new DescribeTableCommand({ TableName }));
    if (d.Table?.TableStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    await ddb.send(
      new UpdateTimeToLiveCommand({
        TableName,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
  } catch {
    // dynalite does not implement TTL; expiry is also checked on read (see llm/cache.ts).
  }
}

export async function ensureBucket(cfg: AppConfig): Promise<void> {
  const s3 = createS3Client(cfg);
  try {
    await s3.send(new HeadBucketCommand({ Bucket: cfg.S3_BUCKET }));
  } catch {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: cfg.S3_BUCKET }));
    } catch (err) {
      const name = (err as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    }
  }
}
