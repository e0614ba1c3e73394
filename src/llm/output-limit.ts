// The output-token limit of a structured call, derived from its answer's JSON schema and the number of
// items it answers. Every call carries one (Ollama `num_predict`, OpenAI `max_tokens`): without it a small
// model can generate until the client gives up, and the call never ends.

/** Characters assumed for a string the schema does not bound (a free-text `reason`). */
export const FREE_STRING_CHARS = 240;
/** Characters assumed for an `id` property (our ids are short). */
const ID_CHARS = 48;
/** Items assumed for an array that is neither bounded nor the per-item answer array. */
const FREE_ARRAY_ITEMS = 5;
/** JSON is about 3 characters a token with common BPE vocabularies; a little room on top. */
const CHARS_PER_TOKEN = 3;
const HEADROOM = 1.25;
const MIN_TOKENS = 64;
const MAX_TOKENS = 16_384;

type JsonSchema = Record<string, unknown>;

/**
 * Most output tokens a valid answer needs: a walk over the schema that sizes strings, enums and
 * arrays, with the answer's per-item array (an array of objects with an `id`) sized to `itemCount`.
 */
export function outputTokenLimit(jsonSchema: JsonSchema, itemCount = 1): number {
  const tokens = Math.ceil(sizeOf(jsonSchema, Math.max(1, itemCount)) * HEADROOM) + 16;
  return Math.min(MAX_TOKENS, Math.max(MIN_TOKENS, tokens));
}

function sizeOf(schema: unknown, itemCount: number, propertyName?: string): number {
  if (!schema || typeof schema !== 'object') return 4;
  const s = schema as JsonSchema;
  const options = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(options)) return Math.max(...options.map((o) => sizeOf(o, itemCount, propertyName)));
  if (Array.isArray(s.enum))
    return Math.ceil(Math.max(...s.enum.map((v) => String(v).length)) / CHARS_PER_TOKEN) + 2;
  const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string | undefined];
  return Math.max(...types.map((type) => sizeOfType(s, type, itemCount, propertyName)));
}

function sizeOfType(
  s: JsonSchema,
  type: string | undefined,
  itemCount: number,
  propertyName?: string,
): number {
  switch (type) {
    case 'string': {
      const chars =
        typeof s.maxLength === 'number' ? s.maxLength : propertyName === 'id' ? ID_CHARS : FREE_STRING_CHARS;
      return Math.ceil(chars / CHARS_PER_TOKEN) + 2;
    }
    case 'number':
    case 'integer':
      return 6;
    case 'boolean':
    case 'null':
      return 2;
    case 'array': {
      const n =
        typeof s.maxItems === 'number' ? s.maxItems : isItemObject(s.items) ? itemCount : FREE_ARRAY_ITEMS;
      return 2 + n * (sizeOf(s.items, itemCount) + 1);
    }
    case 'object':
    default: {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      let total = 2;
      for (const [name, prop] of Object.entries(props))
        total += Math.ceil(name.length / CHARS_PER_TOKEN) + 2 + sizeOf(prop, itemCount, name);
      return total;
    }
  }
}

/** An array of answers per item: objects that carry the item's `id`. */
function isItemObject(items: unknown): boolean {
  const props = (items as JsonSchema | undefined)?.properties as Record<string, unknown> | undefined;
  return Boolean(props && 'id' in props);
}
