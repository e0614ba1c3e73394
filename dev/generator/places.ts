// Synthetic gyms (seed 004's places): English opening hours, reviews that mention amenities and
// sometimes women-only hours, and the enrichment a perfect model would return (the oracle's truth).
import { MAX_AMENITIES, type Place, type PlaceEnrichment, type PlaceReview } from '../../src/domain/places';
import { seededFor, type Rng } from './random';

export interface GeneratePlacesOptions {
  /** How many places. */
  count: number;
  /** Same seed and options give identical places. */
  seed: number;
  /** Fewest reviews per place. @default 4 */
  minReviews?: number;
  /** Most reviews per place. @default 8 */
  maxReviews?: number;
  /** Fraction of places with women-only hours. @default 0.3 */
  womenOnlyRate?: number;
}

export interface PlacesDataset {
  places: Place[];
  /** placeId -> the enrichment a perfect model would return. */
  truth: Record<string, PlaceEnrichment>;
}

export const AMENITIES = [
  'free weights',
  'squat racks',
  'cardio machines',
  'sauna',
  'steam room',
  'swimming pool',
  'group classes',
  'yoga studio',
  'spin studio',
  'personal training',
  'lockers',
  'showers',
  'towel service',
  'free parking',
  'childcare',
  'juice bar',
  'boxing ring',
  'climbing wall',
  'basketball court',
  'hot tub',
  'pilates classes',
  'free wifi',
] as const;

const NAME_FIRST = ['Iron', 'Peak', 'Urban', 'Core', 'Summit', 'Pulse', 'Titan', 'Harbor', 'Maple', 'Vital'];
const NAME_SECOND = ['Temple', 'Forge', 'Athletics', 'Fitness', 'Strength', 'Motion', 'Body Lab', 'Gym'];
const STREETS = [
  'Rue Sainte-Catherine',
  'Main Street',
  'Queen Street',
  'Boulevard Saint-Laurent',
  'King Road',
];
const CITIES = ['Montreal', 'Quebec City', 'Ottawa', 'Toronto', 'Gatineau', 'Sherbrooke'];
const AUTHORS = ['Amira K.', 'Ben T.', 'Chloe R.', 'Dev P.', 'Elena S.', 'Farid M.', 'Grace L.', 'Hugo B.'];
const SIZES = ['small', 'friendly', 'spacious', 'busy', 'modern', 'no-frills'];

const OPENERS: Record<number, string[]> = {
  5: ['Best gym I have been to.', 'Absolutely love this place.', 'Five stars, no hesitation.'],
  4: ['Really good gym overall.', 'Solid place to train.', 'Happy with my membership.'],
  3: ['Decent gym with some flaws.', 'It is okay for the price.', 'Mixed feelings about this one.'],
  2: ['Not great lately.', 'Disappointed after a few months.'],
  1: ['Would not recommend.', 'Cancelled my membership.'],
};
const AMENITY_SENTENCES = [
  (a: string) => `The ${a} is always clean.`,
  (a: string) => `I mostly come for the ${a}.`,
  (a: string) => `Love the ${a}.`,
  (a: string) => `The ${a} could be bigger but it does the job.`,
  (a: string, b: string) => `They have ${a} and ${b}, which is great.`,
  (a: string, b: string) => `Good ${a}, and the ${b} is a nice bonus.`,
];
const WOMEN_ONLY_SENTENCES = [
  'The women-only hours make me feel comfortable.',
  'I go during the women-only hours and it is never crowded.',
  'Great that they offer women-only hours.',
];
const NO_WOMEN_ONLY_SENTENCES = ['I wish they offered women-only hours.', 'No women-only hours, sadly.'];
const CLOSERS = [
  'Staff are friendly.',
  'Parking can be tricky at night.',
  'Worth it.',
  'Changing rooms need work.',
];

const DAYS_EN = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const DAYS_FR: Record<(typeof DAYS_EN)[number], string> = {
  Mon: 'lun',
  Tue: 'mar',
  Wed: 'mer',
  Thu: 'jeu',
  Fri: 'ven',
  Sat: 'sam',
  Sun: 'dim',
};

/** A place's weekly hours, from which both the English text and its French translation derive. */
interface Schedule {
  allDay: boolean;
  weekday: [number, number];
  weekend: [number, number];
  womenOnly?: { days: Array<(typeof DAYS_EN)[number]>; from: number; to: number };
}

export function placeIdOf(index: number): string {
  return `p-${String(index + 1).padStart(4, '0')}`;
}

/** Minutes after midnight as `6:30 AM`. */
function clockEn(minutes: number): string {
  const h = Math.floor(minutes / 60) % 24;
  const m = minutes % 60;
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${h12}:${String(m).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
}

/** Minutes after midnight as `6 h 30` (Quebec French style). */
function clockFr(minutes: number): string {
  const h = Math.floor(minutes / 60) % 24;
  const m = minutes % 60;
  return `${h} h ${String(m).padStart(2, '0')}`;
}

function hoursEnglish(s: Schedule): string {
  const base = s.allDay
    ? 'Open 24 hours, 7 days a week'
    : `Mon-Fri ${clockEn(s.weekday[0])} - ${clockEn(s.weekday[1])}; Sat-Sun ${clockEn(s.weekend[0])} - ${clockEn(s.weekend[1])}`;
  if (!s.womenOnly) return base;
  const w = s.womenOnly;
  return `${base}; Women-only hours: ${w.days.join(', ')} ${clockEn(w.from)} - ${clockEn(w.to)}`;
}

/** The French translation a perfect model gives of the English hours. */
function hoursFrench(s: Schedule): string {
  const base = s.allDay
    ? 'Ouvert 24 heures sur 24, 7 jours sur 7'
    : `lun-ven ${clockFr(s.weekday[0])} à ${clockFr(s.weekday[1])} ; sam-dim ${clockFr(s.weekend[0])} à ${clockFr(s.weekend[1])}`;
  if (!s.womenOnly) return base;
  const w = s.womenOnly;
  return `${base} ; heures réservées aux femmes : ${w.days.map((d) => DAYS_FR[d]).join(', ')} ${clockFr(w.from)} à ${clockFr(w.to)}`;
}

function schedule(rng: Rng, womenOnly: boolean): Schedule {
  const half = (lo: number, hi: number) => rng.int(lo * 2, hi * 2) * 30;
  const s: Schedule = {
    allDay: rng.chance(0.15),
    weekday: [half(5, 7), half(21, 23)],
    weekend: [half(7, 9), half(18, 21)],
  };
  if (womenOnly) {
    const days = rng.sample(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const, rng.int(1, 3));
    const from = half(8, 18);
    s.womenOnly = {
      days: DAYS_EN.filter((d) => days.includes(d as never)),
      from,
      to: from + rng.int(2, 4) * 30,
    };
  }
  return s;
}

function generatePlace(seed: number, index: number, o: Required<GeneratePlacesOptions>) {
  const rng = seededFor(seed, 'place', index);
  const placeId = placeIdOf(index);
  const city = rng.pick(CITIES);
  const name = `${rng.pick(NAME_FIRST)} ${rng.pick(NAME_SECOND)} ${city.split(' ')[0]}`;
  const womenOnly = rng.chance(o.womenOnlyRate);
  const sched = schedule(rng, womenOnly);
  const amenities = rng.sample(AMENITIES, rng.int(3, 12));
  const reviewCount = rng.int(o.minReviews, o.maxReviews);
  const mentions = new Map<string, number>();
  const reviews: PlaceReview[] = [];
  // Every amenity is mentioned at least once; each review mentions one to three.
  const queue = rng.shuffle(amenities);
  for (let r = 0; r < reviewCount; r++) {
    const rating = rng.int(2, 5) + (rng.chance(0.1) ? -1 : 0);
    const parts = [rng.pick(OPENERS[Math.max(1, rating)]!)];
    const take = r === reviewCount - 1 ? Math.max(1, queue.length) : rng.int(1, 3);
    for (let k = 0; k < take; k++) {
      const a = queue.shift() ?? rng.pick(amenities);
      const tmpl = rng.pick(AMENITY_SENTENCES);
      if (tmpl.length === 2 && (queue.length > 0 || amenities.length > 1)) {
        const b = queue.shift() ?? rng.pick(amenities.filter((x) => x !== a));
        parts.push(tmpl(a, b));
        mentions.set(b, (mentions.get(b) ?? 0) + 1);
      } else parts.push((tmpl as (a: string) => string)(a));
      mentions.set(a, (mentions.get(a) ?? 0) + 1);
    }
    if (womenOnly && (r === 0 || rng.chance(0.3))) parts.push(rng.pick(WOMEN_ONLY_SENTENCES));
    else if (!womenOnly && rng.chance(0.1)) parts.push(rng.pick(NO_WOMEN_ONLY_SENTENCES));
    if (rng.chance(0.5)) parts.push(rng.pick(CLOSERS));
    reviews.push({
      reviewIndex: r,
      author: rng.pick(AUTHORS),
      rating: Math.max(1, rating),
      text: parts.join(' '),
    });
  }
  // Reviews are stored newest first in arbitrary order; the women-only mention need not be first.
  const shuffled = rng.shuffle(reviews).map((rv, i) => ({ ...rv, reviewIndex: i }));
  const top = [...mentions.entries()]
    .sort((a, b) => b[1] - a[1] || AMENITIES.indexOf(a[0] as never) - AMENITIES.indexOf(b[0] as never))
    .map(([a]) => a)
    .slice(0, MAX_AMENITIES);
  const avg = shuffled.reduce((n, rv) => n + rv.rating, 0) / shuffled.length;
  const sentences = [
    `${name} is a ${rng.pick(SIZES)} gym in ${city}.`,
    `Members praise its ${top.slice(0, 2).join(' and ')}${top.length > 2 ? `, along with its ${top[2]}` : ''}.`,
    `Reviewers rate it ${avg.toFixed(1)} out of 5 on average.`,
  ];
  if (womenOnly) sentences.push('It offers dedicated women-only hours.');
  else if (sched.allDay) sentences.push('It is open around the clock.');
  const place: Place = {
    placeId,
    name,
    address: `${rng.int(10, 9999)} ${rng.pick(STREETS)}, ${city}`,
    city,
    phone: `(${rng.int(200, 999)}) 555-${String(rng.int(0, 9999)).padStart(4, '0')}`,
    hoursText: hoursEnglish(sched),
    reviews: shuffled,
  };
  const truth: PlaceEnrichment = {
    description: sentences.join(' '),
    amenities: top,
    hasWomenOnlyHours: womenOnly,
    hoursFrench: hoursFrench(sched),
  };
  return { place, truth };
}

/** Places with reviews and their truth; place i only depends on (seed, i). */
export function generatePlaces(options: GeneratePlacesOptions): PlacesDataset {
  const o: Required<GeneratePlacesOptions> = {
    minReviews: 4,
    maxReviews: 8,
    womenOnlyRate: 0.3,
    ...options,
  };
  if (!Number.isInteger(o.count) || o.count < 0)
    throw new RangeError(`count ${o.count} must be an integer >= 0`);
  if (o.minReviews < 1 || o.maxReviews < o.minReviews)
    throw new RangeError(
      `reviews per place must satisfy 1 <= min (${o.minReviews}) <= max (${o.maxReviews})`,
    );
  const places: Place[] = [];
  const truth: Record<string, PlaceEnrichment> = {};
  for (let i = 0; i < o.count; i++) {
    const g = generatePlace(o.seed, i, o);
    places.push(g.place);
    truth[g.place.placeId] = g.truth;
  }
  return { places, truth };
}
