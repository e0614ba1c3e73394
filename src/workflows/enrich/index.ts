// Place enrichment's workflow (seed 004) and its input.
export { enrichPlaces } from './enrich-places';
export { applyEnrichmentDefaults, type EnrichPlacesInput, type EnrichSettings } from './settings';
