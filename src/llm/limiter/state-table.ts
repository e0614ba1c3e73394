// Every DynamoDB request of the limiter, in one place: its partition holds the shared state
// (SK 'STATE'), one item per held slot ('SLOT#007') and the per-minute token budgets ('TOKENS#...').
import {
  DeleteCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from '../../stores/conditional-writes';
import { LlmBudgetExhaustedError } from '../errors';
import type { LimiterState } from './options';
import { slotKey } from './slots';

/** A slot item as stored. */
export interface SlotItem {
  slot: number;
  leaseUntil: number;
}

export class LimiterTable {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    /** The limiter's partition: `LIMITER#<name>`. */
    readonly pk: string,
  ) {}

  /** The state and every slot in one consistent Query ('SLOT#...' < 'STATE' < 'TOKENS#...'). */
  async readStateAndSlots(): Promise<{ state?: LimiterState; slots: SlotItem[] }> {
    const r = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :first AND :last',
        ExpressionAttributeValues: { ':pk': this.pk, ':first': 'SLOT#', ':last': 'STATE' },
        ConsistentRead: true,
      }),
    );
    let state: LimiterState | undefined;
    const slots: SlotItem[] = [];
    for (const item of r.Items ?? []) {
      if (item.SK === 'STATE') state = item as unknown as LimiterState;
      else if (typeof item.SK === 'string' && item.SK.startsWith('SLOT#'))
        slots.push({ slot: Number(item.slot), leaseUntil: Number(item.leaseUntil) });
    }
    return { state, slots };
  }

  /** Writes the state; with `onlyIfAbsent`, false when another worker created it first. */
  async putState(state: LimiterState, onlyIfAbsent: boolean): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { PK: this.pk, SK: 'STATE', ...state },
          ...(onlyIfAbsent ? { ConditionExpression: 'attribute_not_exists(SK)' } : {}),
        }),
      );
      return true;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return false;
    }
  }

  /** Takes a slot whose lease ended before `cutoff` (or a free one); false when someone holds it. */
  async takeSlot(
    item: { slot: number; holder: string; heldAtAcquire: number; acquiredAt: number; leaseUntil: number },
    cutoff: number,
  ): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { PK: this.pk, SK: slotKey(item.slot), ...item },
          ConditionExpression: 'attribute_not_exists(holder) OR leaseUntil < :cutoff',
          ExpressionAttributeValues: { ':cutoff': cutoff },
        }),
      );
      return true;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return false;
    }
  }

  /** Extends a slot's lease if `holder` still holds it; false when it does not. */
  async renewSlot(slot: number, holder: string, leaseUntil: number): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: slotKey(slot) },
          UpdateExpression: 'SET leaseUntil = :t',
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':t': leaseUntil, ':h': holder },
        }),
      );
      return true;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return false;
    }
  }

  /** Frees a slot if `holder` still holds it (a slot taken over by another holder is left alone). */
  async freeSlot(slot: number, holder: string): Promise<void> {
    try {
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: slotKey(slot) },
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':h': holder },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /** Updates the state if `condition` holds (`#l` stands for `limit`); a failed condition is no error. */
  async updateState(update: string, condition: string, values: Record<string, unknown>): Promise<void> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: 'STATE' },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ...(update.includes('#l') || condition.includes('#l')
            ? { ExpressionAttributeNames: { '#l': 'limit' } }
            : {}),
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /** Counts one success at the limit; returns the state after it. */
  async addProbeSuccess(): Promise<LimiterState | undefined> {
    const r = await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { PK: this.pk, SK: 'STATE' },
        UpdateExpression: 'ADD probeSuccesses :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return r.Attributes as LimiterState | undefined;
  }

  /**
   * Reserves an estimate of tokens in the current minute's budget of `max`; throws
   * LlmBudgetExhaustedError (retry when the next minute opens) when it would overflow.
   */
  async reserveTokens(max: number, estimate: number, now: number): Promise<number> {
    const minute = Math.floor(now / 60_000);
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: `TOKENS#${minute}` },
          UpdateExpression: 'ADD used :e SET expiresAt = :exp',
          ConditionExpression: 'attribute_not_exists(used) OR used <= :room',
          ExpressionAttributeValues: {
            ':e': estimate,
            ':room': Math.max(0, max - estimate),
            ':exp': minute * 60 + 3600,
          },
        }),
      );
      return minute;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      throw new LlmBudgetExhaustedError((minute + 1) * 60_000 - now + Math.floor(Math.random() * 1000));
    }
  }

  /** Corrects a minute's reservation by the tokens the provider reported. */
  async adjustTokens(minute: number, delta: number): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { PK: this.pk, SK: `TOKENS#${minute}` },
        UpdateExpression: 'ADD used :d',
        ExpressionAttributeValues: { ':d': delta },
      }),
    );
  }
}
