// Places (seed 004's gyms) as the enrichment pipeline sees them: a place with its reviews, what the
// enrichment extracts, and the checks and limits applied before a place is sent to the LLM.
import type { PlaceEnrichmentAnswer } from './llm-tasks';

export interface PlaceReview {
  /** Position of the review in the place's list (its key: `REVIEW#<nnn>`). */
  reviewIndex: number;
  author: string;
  /** 1..5 stars. */
  rating: number;
  text: string;
}

export interface Place {
  placeId: string;
  name: string;
  address: string;
  city: string;
  phone: string;
  /** Opening hours as the source lists them, in English. */
  hoursText: string;
  reviews: PlaceReview[];
}

/** What the combined enrichment prompt extracts for one place. */
export type PlaceEnrichment = Omit<PlaceEnrichmentAnswer, 'id'>;

/** The answer schema allows at most this many amenities. */
export const MAX_AMENITIES = 10;

/** Limits on what one enrichment prompt carries. */
export const PLACE_LIMITS = {
  /** Reviews sent per place (the most recent first, as stored). */
  maxReviews: 50,
  maxReviewChars: 2000,
} as const;

/**
 * Problems that make a place unfit for enrichment (recorded as its FAILED reason, no LLM call):
 * no name, no reviews, a review without text or with a bad rating.
 */
export function validatePlace(place: Partial<Place> | undefined): string[] {
  if (!place) return ['place not found'];
  const problems: string[] = [];
  if (typeof place.name !== 'string' || !place.name.trim()) problems.push('no name');
  if (typeof place.hoursText !== 'string') problems.push('no opening hours');
  if (!Array.isArray(place.reviews) || place.reviews.length === 0) problems.push('no reviews');
  for (const r of place.reviews ?? []) {
    if (typeof r.text !== 'string' || !r.text.trim()) problems.push(`review ${r.reviewIndex} has no text`);
    else if (r.text.length > PLACE_LIMITS.maxReviewChars)
      problems.push(`review ${r.reviewIndex} is longer than ${PLACE_LIMITS.maxReviewChars} characters`);
    if (!Number.isInteger(r.rating) || r.rating < 1 || r.rating > 5)
      problems.push(`review ${r.reviewIndex} has rating ${JSON.stringify(r.rating)} (want 1..5)`);
  }
  return problems;
}

/** Sentences in a text: pieces separated by . ! or ? followed by whitespace (so `4.5` is one). */
export function countSentences(text: string): number {
  return text
    .trim()
    .split(/(?<=[.!?])\s+/)
    .filter((s) => s.trim().length > 0).length;
}
