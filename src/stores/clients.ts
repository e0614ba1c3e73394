// AWS/Chroma client construction from config: one place that knows endpoints and credentials.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { AppConfig } from '../config';

/** Local emulators accept any credentials; real AWS uses the default provider chain. */
function credentialsFor(cfg: AppConfig, external: boolean) {
  if (external && process.env.AWS_ACCESS_KEY_ID) return undefined;
  return { accessKeyId: 'local', secretAccessKey: 'local' };
}

export function createDynamoClient(cfg: AppConfig): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: cfg.AWS_REGION,
    endpoint: cfg.dynamodbEndpoint,
    credentials: credentialsFor(cfg, cfg.external.dynamodb),
    maxAttempts: 3,
  });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}

export function createS3Client(cfg: AppConfig): S3Client {
  return new S3Client({
    region: cfg.AWS_REGION,
    endpoint: cfg.s3Endpoint,
    forcePathStyle: true,
    credentials: credentialsFor(cfg, cfg.external.s3),
    maxAttempts: 3,
  });
}
