// A small JSON Schema toolkit for structured output: generate a deterministic instance of a schema,
// and check an instance against one. Covers what LLM structured-output schemas use (object, array,
// string, number, integer, boolean, null, enum, const, anyOf/oneOf/allOf, $ref, required).
import { type SeededRandom } from './random';

export type JsonSchema = boolean | { [keyword: string]: unknown };
type SchemaObject = { [keyword: string]: unknown };

/** Below this depth, generation keeps only what is required, so recursive schemas terminate. */
const MAX_DEPTH = 8;
/** Extra array items generated beyond `minItems`, at most. */
const MAX_EXTRA_ITEMS = 3;
const WORDS = ['alpha', 'bravo', 'delta', 'echo', 'lima', 'oscar', 'sierra', 'tango', 'victor', 'zulu'];

function isObject(v: unknown): v is SchemaObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Resolves a local `$ref` (`#`, `#/definitions/x`, `#/$defs/x`, any JSON pointer into the root). */
function resolveRef(ref: string, root: JsonSchema): JsonSchema {
  if (!ref.startsWith('#')) throw new Error(`unsupported $ref ${ref}: only local references are supported`);
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : Array.isArray(node) ? (node as unknown[])[Number(key)] : undefined;
  }
  if (node === undefined) throw new Error(`$ref ${ref} does not resolve`);
  return node as JsonSchema;
}

function schemaTypes(s: SchemaObject): string[] {
  if (typeof s.type === 'string') return [s.type];
  if (Array.isArray(s.type)) return s.type.filter((t): t is string => typeof t === 'string');
  if (isObject(s.properties) || Array.isArray(s.required)) return ['object'];
  if (s.items !== undefined || s.prefixItems !== undefined) return ['array'];
  return [];
}

/** Merges the object branches of an allOf so one instance can satisfy all of them. */
function mergeAllOf(s: SchemaObject, root: JsonSchema): SchemaObject {
  const merged: SchemaObject = { ...s };
  delete merged.allOf;
  const properties: SchemaObject = { ...(isObject(s.properties) ? s.properties : {}) };
  const required = new Set<string>(Array.isArray(s.required) ? (s.required as string[]) : []);
  for (const raw of s.allOf as unknown[]) {
    let branch = raw as JsonSchema;
    if (isObject(branch) && typeof branch.$ref === 'string') branch = resolveRef(branch.$ref, root);
    if (!isObject(branch)) continue;
    for (const [k, v] of Object.entries(branch)) {
      if (k === 'properties' && isObject(v)) Object.assign(properties, v);
      else if (k === 'required' && Array.isArray(v)) for (const r of v) required.add(String(r));
      else if (!(k in merged)) merged[k] = v;
    }
  }
  if (Object.keys(properties).length > 0) merged.properties = properties;
  if (required.size > 0) merged.required = [...required];
  return merged;
}

/** A deterministic instance valid for `schema` (given the same rng state). */
export function generateInstance(
  schema: JsonSchema,
  rng: SeededRandom,
  root: JsonSchema = schema,
  depth = 0,
): unknown {
  if (schema === true) return generateString({}, rng);
  if (schema === false || !isObject(schema)) return null;
  if (typeof schema.$ref === 'string')
    return generateInstance(resolveRef(schema.$ref, root), rng, root, depth + 1);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum as unknown[]);
  if (Array.isArray(schema.allOf)) return generateInstance(mergeAllOf(schema, root), rng, root, depth + 1);
  const alternatives = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    // Deep in a recursive schema, prefer a null branch: it ends the recursion.
    const nullBranch = alternatives.find((a) => isObject(a) && a.type === 'null');
    const branch = depth >= MAX_DEPTH && nullBranch ? nullBranch : rng.pick(alternatives);
    return generateInstance(branch as JsonSchema, rng, root, depth + 1);
  }
  const types = schemaTypes(schema);
  const nonNull = types.filter((t) => t !== 'null');
  const type = nonNull.length > 0 ? rng.pick(nonNull) : (types[0] ?? 'string');
  switch (type) {
    case 'object':
      return generateObject(schema, rng, root, depth);
    case 'array':
      return generateArray(schema, rng, root, depth);
    case 'integer':
    case 'number':
      return generateNumber(schema, rng, type === 'integer');
    case 'boolean':
      return rng.next() < 0.5;
    case 'null':
      return null;
    default:
      return generateString(schema, rng);
  }
}

function generateObject(
  s: SchemaObject,
  rng: SeededRandom,
  root: JsonSchema,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const properties = isObject(s.properties) ? s.properties : {};
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
  for (const [key, sub] of Object.entries(properties)) {
    const include = required.has(key) || (depth < MAX_DEPTH && rng.next() < 0.5);
    if (include) out[key] = generateInstance(sub as JsonSchema, rng, root, depth + 1);
  }
  // A required key without a property schema (legal JSON Schema) still needs a value.
  for (const key of required) if (!(key in out)) out[key] = generateString({}, rng);
  return out;
}

function generateArray(s: SchemaObject, rng: SeededRandom, root: JsonSchema, depth: number): unknown[] {
  const min = num(s.minItems) ?? 0;
  const max = num(s.maxItems) ?? Number.POSITIVE_INFINITY;
  const extra = depth >= MAX_DEPTH ? 0 : rng.int(MAX_EXTRA_ITEMS + 1);
  const length = Math.max(min, Math.min(max, min + extra));
  const prefix = Array.isArray(s.prefixItems)
    ? (s.prefixItems as JsonSchema[])
    : Array.isArray(s.items)
      ? (s.items as JsonSchema[])
      : [];
  const itemSchema: JsonSchema = Array.isArray(s.items)
    ? ((s.additionalItems as JsonSchema) ?? true)
    : ((s.items as JsonSchema) ?? true);
  const out: unknown[] = [];
  const seen = new Set<string>();
  for (let i = 0, attempts = 0; out.length < length && attempts < length * 10 + 10; attempts++, i++) {
    const sub = out.length < prefix.length ? (prefix[out.length] as JsonSchema) : itemSchema;
    const value = generateInstance(sub, rng, root, depth + 1);
    if (s.uniqueItems === true) {
      const key = JSON.stringify(value);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(value);
  }
  return out;
}

function generateNumber(s: SchemaObject, rng: SeededRandom, integer: boolean): number {
  let lo = num(s.minimum) ?? Number.NEGATIVE_INFINITY;
  let hi = num(s.maximum) ?? Number.POSITIVE_INFINITY;
  const exLo = num(s.exclusiveMinimum) ?? (s.exclusiveMinimum === true ? lo : undefined);
  const exHi = num(s.exclusiveMaximum) ?? (s.exclusiveMaximum === true ? hi : undefined);
  const step = num(s.multipleOf) ?? (integer ? 1 : undefined);
  const eps = step ?? 1e-6;
  if (exLo !== undefined) lo = Math.max(lo, exLo + eps);
  if (exHi !== undefined) hi = Math.min(hi, exHi - eps);
  if (!Number.isFinite(lo)) lo = Number.isFinite(hi) ? hi - 100 : 0;
  if (!Number.isFinite(hi)) hi = lo + 100;
  if (step !== undefined) {
    const first = Math.ceil(lo / step);
    const last = Math.max(first, Math.floor(hi / step));
    return Number(((first + rng.int(Math.min(last - first, 1000) + 1)) * step).toFixed(10));
  }
  let v = Math.round((lo + rng.next() * (hi - lo)) * 100) / 100;
  if (v < lo || v > hi) v = lo;
  return integer ? Math.round(v) : v;
}

function generateString(s: SchemaObject, rng: SeededRandom): string {
  const day = 1 + rng.int(28);
  const month = 1 + rng.int(12);
  const date = `2024-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  let v: string;
  switch (s.format) {
    case 'date-time':
      v = `${date}T12:${String(rng.int(60)).padStart(2, '0')}:00Z`;
      break;
    case 'date':
      v = date;
      break;
    case 'time':
      v = `12:${String(rng.int(60)).padStart(2, '0')}:00`;
      break;
    case 'email':
      v = `${rng.pick(WORDS)}@example.com`;
      break;
    case 'uri':
    case 'url':
      v = `https://example.com/${rng.pick(WORDS)}`;
      break;
    case 'uuid':
      v = '00000000-0000-4000-8000-' + String(rng.int(1e12)).padStart(12, '0');
      break;
    default:
      v = `${rng.pick(WORDS)} ${rng.pick(WORDS)}`;
  }
  const min = num(s.minLength) ?? 0;
  const max = num(s.maxLength);
  while ([...v].length < min) v += 'x';
  if (max !== undefined && [...v].length > max) v = [...v].slice(0, max).join('');
  return v;
}

/** Why `value` does not fit `schema` (JSON path + reason), or undefined when it fits. */
export function findSchemaViolation(
  schema: JsonSchema,
  value: unknown,
  root: JsonSchema = schema,
  path = '$',
): string | undefined {
  if (schema === true) return undefined;
  if (schema === false) return `${path}: no value is allowed here`;
  if (!isObject(schema)) return undefined;
  if (typeof schema.$ref === 'string')
    return findSchemaViolation(resolveRef(schema.$ref, root), value, root, path);
  const combined = combinatorViolation(schema, value, root, path);
  if (combined) return combined;

  const types =
    typeof schema.type === 'string'
      ? [schema.type]
      : Array.isArray(schema.type)
        ? (schema.type as string[])
        : [];
  if (types.length > 0 && !types.some((t) => hasType(value, t)))
    return `${path}: must be ${types.join(' or ')}`;

  if (typeof value === 'string') return stringViolation(schema, value, path);
  if (typeof value === 'number') return numberViolation(schema, value, path);
  if (Array.isArray(value)) return arrayViolation(schema, value, root, path);
  if (isObject(value)) return objectViolation(schema, value, root, path);
  return undefined;
}

/** const, enum, allOf, anyOf, oneOf and not. */
function combinatorViolation(
  schema: SchemaObject,
  value: unknown,
  root: JsonSchema,
  path: string,
): string | undefined {
  if ('const' in schema && !deepEqual(schema.const, value))
    return `${path}: must equal ${JSON.stringify(schema.const)}`;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value)))
    return `${path}: must be one of ${JSON.stringify(schema.enum)}`;
  if (Array.isArray(schema.allOf)) {
    for (const sub of schema.allOf) {
      const v = findSchemaViolation(sub as JsonSchema, value, root, path);
      if (v) return v;
    }
  }
  if (
    Array.isArray(schema.anyOf) &&
    !schema.anyOf.some((sub) => !findSchemaViolation(sub as JsonSchema, value, root, path))
  )
    return `${path}: matches no anyOf branch`;
  if (Array.isArray(schema.oneOf)) {
    const matches = schema.oneOf.filter(
      (sub) => !findSchemaViolation(sub as JsonSchema, value, root, path),
    ).length;
    if (matches !== 1) return `${path}: matches ${matches} oneOf branches, expected exactly 1`;
  }
  if (schema.not !== undefined && !findSchemaViolation(schema.not as JsonSchema, value, root, path))
    return `${path}: must not match the "not" schema`;
  return undefined;
}

function stringViolation(schema: SchemaObject, value: string, path: string): string | undefined {
  const length = [...value].length;
  const min = num(schema.minLength);
  const max = num(schema.maxLength);
  if (min !== undefined && length < min) return `${path}: shorter than ${min}`;
  if (max !== undefined && length > max) return `${path}: longer than ${max}`;
  if (typeof schema.pattern === 'string' && !safeRegExp(schema.pattern)?.test(value))
    return `${path}: does not match ${schema.pattern}`;
  return undefined;
}

function numberViolation(schema: SchemaObject, value: number, path: string): string | undefined {
  const min = num(schema.minimum);
  const max = num(schema.maximum);
  if (min !== undefined && (value < min || (schema.exclusiveMinimum === true && value === min)))
    return `${path}: below minimum`;
  if (max !== undefined && (value > max || (schema.exclusiveMaximum === true && value === max)))
    return `${path}: above maximum`;
  const exMin = num(schema.exclusiveMinimum);
  const exMax = num(schema.exclusiveMaximum);
  if (exMin !== undefined && value <= exMin) return `${path}: must be > ${exMin}`;
  if (exMax !== undefined && value >= exMax) return `${path}: must be < ${exMax}`;
  const step = num(schema.multipleOf);
  if (step !== undefined && Math.abs(value / step - Math.round(value / step)) > 1e-9)
    return `${path}: not a multiple of ${step}`;
  return undefined;
}

function arrayViolation(
  schema: SchemaObject,
  value: unknown[],
  root: JsonSchema,
  path: string,
): string | undefined {
  const min = num(schema.minItems);
  const max = num(schema.maxItems);
  if (min !== undefined && value.length < min) return `${path}: fewer than ${min} items`;
  if (max !== undefined && value.length > max) return `${path}: more than ${max} items`;
  const prefix = Array.isArray(schema.prefixItems)
    ? schema.prefixItems
    : Array.isArray(schema.items)
      ? schema.items
      : [];
  const rest = Array.isArray(schema.items) ? schema.additionalItems : schema.items;
  for (let i = 0; i < value.length; i++) {
    const sub = (i < prefix.length ? prefix[i] : rest) as JsonSchema | undefined;
    if (sub === undefined) continue;
    const v = findSchemaViolation(sub, value[i], root, `${path}[${i}]`);
    if (v) return v;
  }
  if (schema.uniqueItems === true && new Set(value.map((x) => JSON.stringify(x))).size !== value.length)
    return `${path}: items must be unique`;
  return undefined;
}

function objectViolation(
  schema: SchemaObject,
  value: SchemaObject,
  root: JsonSchema,
  path: string,
): string | undefined {
  const properties = isObject(schema.properties) ? schema.properties : {};
  for (const key of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
    if (!(key in value)) return `${path}: missing required property "${key}"`;
  }
  for (const [key, v] of Object.entries(value)) {
    const sub = properties[key] as JsonSchema | undefined;
    if (sub !== undefined) {
      const violation = findSchemaViolation(sub, v, root, `${path}.${key}`);
      if (violation) return violation;
    } else if (schema.additionalProperties === false) {
      return `${path}: unexpected property "${key}"`;
    } else if (isObject(schema.additionalProperties)) {
      const violation = findSchemaViolation(schema.additionalProperties, v, root, `${path}.${key}`);
      if (violation) return violation;
    }
  }
  return undefined;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return true;
  }
}

const regexCache = new Map<string, RegExp | undefined>();
function safeRegExp(pattern: string): RegExp | undefined {
  if (!regexCache.has(pattern)) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(pattern, 'u');
    } catch {
      re = undefined;
    }
    regexCache.set(pattern, re);
  }
  return regexCache.get(pattern);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
