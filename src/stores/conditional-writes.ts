// DynamoDB's conditional writes as the stores use them: a failed condition is an answer ("not this
// time": the item exists, or another writer got there first), never an error.
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** A conditional write lost to its condition (the only error the stores read as an answer). */
export function isConditionFailure(err: unknown): boolean {
  return (err as Error).name === 'ConditionalCheckFailedException';
}

export type ItemKey = { PK: string; SK: string };

/** A conditional UpdateItem: true when applied, false when the condition did not hold. */
export async function updateIf(
  ddb: DynamoDBDocumentClient,
  table: string,
  key: ItemKey,
  update: {
    expression: string;
    condition: string;
    values: Record<string, unknown>;
    names?: Record<string, string>;
  },
): Promise<boolean> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: update.expression,
        ConditionExpression: update.condition,
        ExpressionAttributeValues: update.values,
        ...(update.names ? { ExpressionAttributeNames: update.names } : {}),
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** Puts an item only if absent: false when it already existed (an idempotent create). */
export async function putIfAbsent(
  ddb: DynamoDBDocumentClient,
  table: string,
  item: Record<string, unknown> & ItemKey,
): Promise<boolean> {
  try {
    await ddb.send(
      new PutCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(PK)' }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}
