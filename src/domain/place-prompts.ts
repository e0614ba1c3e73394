// Enrichment prompts: ours (one combined JSON prompt per place) and, for the benchmark, the seed's
// three separate prompts that each carried the full reviews; plus the answer validation.
import { z } from 'zod';
import type { ChatMessage } from '../llm/types';
import { placeEnrichmentAnswerSchema, renderEnvelope, type PlaceEnrichmentAnswer } from './llm-tasks';
import { MAX_AMENITIES, PLACE_LIMITS, countSentences, type Place } from './places';

/** What a prompt needs of a place (the prefetch activity returns this). */
export type PlaceForPrompt = Pick<Place, 'placeId' | 'name' | 'address' | 'hoursText' | 'reviews'>;

const ENRICHMENT_SYSTEM = [
  'You enrich gym listings from their details and customer reviews.',
  'Return one JSON object with:',
  '- description: 3 to 4 sentences describing the gym for a directory listing;',
  `- amenities: the amenities reviewers mention, at most ${MAX_AMENITIES}, most mentioned first;`,
  '- hasWomenOnlyHours: true only if the gym offers women-only hours;',
  '- hoursFrench: the opening hours translated into French.',
  'Answer with JSON only, following the schema; `id` is the place id from the ITEMS block.',
].join('\n');

function placeDetails(place: PlaceForPrompt): string {
  const reviews = place.reviews
    .slice(0, PLACE_LIMITS.maxReviews)
    .map((r, i) => `${i + 1}. (${r.rating}/5) ${r.text}`)
    .join('\n');
  return [
    `Place: ${place.name}`,
    `Address: ${place.address}`,
    `Opening hours: ${place.hoursText}`,
    `Reviews:`,
    reviews,
  ].join('\n');
}

/** Our one combined prompt: description, amenities, women-only hours and French hours at once. */
export function placeEnrichmentMessages(place: PlaceForPrompt): ChatMessage[] {
  return [
    { role: 'system', content: ENRICHMENT_SYSTEM },
    {
      role: 'user',
      content: `${placeDetails(place)}\n\n${renderEnvelope({ task: 'place_enrichment', items: [{ id: place.placeId, name: place.name }] })}`,
    },
  ];
}

/**
 * The answer schema for one place: the task's schema plus what zod alone cannot say: the id sent,
 * 3-4 sentences, a non-empty translation, distinct amenities. An answer failing it is repaired.
 */
export function placeEnrichmentSchemaFor(placeId: string): z.ZodType<PlaceEnrichmentAnswer> {
  return placeEnrichmentAnswerSchema.superRefine((a, ctx) => {
    if (a.id !== placeId) ctx.addIssue({ code: 'custom', path: ['id'], message: `must be "${placeId}"` });
    const sentences = countSentences(a.description);
    if (sentences < 3 || sentences > 4)
      ctx.addIssue({
        code: 'custom',
        path: ['description'],
        message: `must be 3-4 sentences, got ${sentences}`,
      });
    if (!a.hoursFrench.trim())
      ctx.addIssue({ code: 'custom', path: ['hoursFrench'], message: 'must not be empty' });
    const seen = new Set<string>();
    for (const [i, amenity] of a.amenities.entries()) {
      const key = amenity.trim().toLowerCase();
      if (!key) ctx.addIssue({ code: 'custom', path: ['amenities', i], message: 'must not be empty' });
      else if (seen.has(key))
        ctx.addIssue({ code: 'custom', path: ['amenities', i], message: `"${amenity}" is repeated` });
      seen.add(key);
    }
  });
}

/** The seed's design (bench only): three prompts per place, each with the full reviews. */
export const SEED_ENRICHMENT_TASKS = [
  {
    name: 'description',
    instruction:
      'Write a description of this gym in 3 to 4 sentences based on its reviews. Answer with JSON.',
    schema: z.object({ description: z.string() }),
  },
  {
    name: 'amenities',
    instruction: `List the amenities mentioned in these gym reviews (at most ${MAX_AMENITIES}). Answer with JSON.`,
    schema: z.object({ amenities: z.array(z.string()).max(MAX_AMENITIES) }),
  },
  {
    name: 'women-hours-french',
    instruction:
      'Does this gym offer women-only hours? Also translate its opening hours into French. Answer with JSON.',
    schema: z.object({ hasWomenOnlyHours: z.boolean(), hoursFrench: z.string() }),
  },
] as const;

export function seedEnrichmentMessages(
  place: PlaceForPrompt,
  task: (typeof SEED_ENRICHMENT_TASKS)[number],
): ChatMessage[] {
  return [
    { role: 'system', content: task.instruction },
    { role: 'user', content: placeDetails(place) },
  ];
}
