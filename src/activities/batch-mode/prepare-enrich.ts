// Batch mode of the place enrichment, first step: the one combined prompt per place that the
// realtime `enrichPlace` would send (same messages, schema and output limit), those the cache does
// not answer yet, cut into batch jobs. Places that cannot be enriched are left to the realtime run.
import { Context } from '@temporalio/activity';
import { answerJsonSchema } from '../../domain/llm-tasks';
import { placeEnrichmentMessages } from '../../domain/place-prompts';
import { validatePlace } from '../../domain/places';
import { PlaceStore } from '../../stores/places';
import { createPrefetchActivities } from '../enrich/prefetch';
import { type BatchModeDeps } from './deps';
import { recordJobs, type PreparedRequest } from './jobs';
import { assertOpenAi, dropCached, type PreparedBatchJobs } from './prepare-evaluate';
import { requestLineOf } from './requests';

export interface PrepareEnrichBatchJobsInput {
  runId: string;
  placeIds?: string[];
  /** A redrive: the places of the run's plan. */
  redrive?: boolean;
  /** Send every prompt, even those the cache answers. */
  noCache: boolean;
}

export function createPrepareEnrichBatchActivities(deps: BatchModeDeps) {
  const places = new PlaceStore(deps.receipts);
  const listing = createPrefetchActivities({ receipts: deps.receipts, runs: deps.runs, truthFile: '' });
  return {
    /** Lists the run's places as the realtime run does and records one request per enrichable place. */
    async prepareEnrichBatchJobs(input: PrepareEnrichBatchJobsInput): Promise<PreparedBatchJobs> {
      assertOpenAi(deps);
      const ctx = Context.current();
      const placeIds = await listing.listPlaceIds({
        ...(input.placeIds ? { placeIds: input.placeIds } : {}),
        ...(input.redrive ? { redriveRunId: input.runId } : {}),
      });
      const read = await places.readPlaces(placeIds);
      ctx.heartbeat();
      const unique = new Map<string, PreparedRequest>();
      for (const placeId of placeIds) {
        const data = read.get(placeId);
        if (!data || validatePlace({ ...data.meta, reviews: data.reviews }).length) continue;
        const { name, address, hoursText } = data.meta;
        const prompt = {
          task: 'place_enrichment',
          messages: placeEnrichmentMessages({ placeId, name, address, hoursText, reviews: data.reviews }),
          jsonSchema: answerJsonSchema('place_enrichment'),
          itemCount: 1,
        };
        const { customId, line } = requestLineOf(prompt, deps.provider, deps.model);
        unique.set(customId, { customId, line, check: { task: 'place_enrichment', placeId } });
      }
      const cached = input.noCache ? 0 : await dropCached(deps, unique);
      const requests = [...unique.values()];
      const seqs = await recordJobs(deps, input.runId, requests, ctx.info.attempt);
      return { seqs, requests: requests.length, cached };
    },
  };
}
