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

/** A conditional update's parts (as `updateIf` takes them). */
export interface ConditionalUpdate {
  expression: string;
  condition: string;
  values: Record<string, unknown>;
  names: Record<string, string>;
}

/**
 * One step of a record's state machine: `state` from one of `from` to `to`, `fields` set (undefined
 * ones left as they are), only while every attribute of `when` holds its value (e.g. the attempt
 * holding a step).
 */
export function stateTransition(
  from: readonly string[],
  to: string,
  fields: Record<string, unknown>,
  when: Record<string, unknown> = {},
): ConditionalUpdate {
  const values: Record<string, unknown> = { ':to': to };
  const names: Record<string, string> = { '#state': 'state' };
  const sets = ['#state = :to'];
  Object.entries(fields)
    .filter(([k, v]) => v !== undefined && k !== 'state')
    .forEach(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:f${i}`] = v;
      sets.push(`#f${i} = :f${i}`);
    });
  from.forEach((s, i) => (values[`:from${i}`] = s));
  const conditions = [`(${from.map((_, i) => `#state = :from${i}`).join(' OR ')})`];
  Object.entries(when).forEach(([k, v], i) => {
    names[`#w${i}`] = k;
    values[`:w${i}`] = v;
    conditions.push(`#w${i} = :w${i}`);
  });
  return { expression: `SET ${sets.join(', ')}`, condition: conditions.join(' AND '), values, names };
}
