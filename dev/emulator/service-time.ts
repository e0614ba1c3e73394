// Service time of one request in the queueing provider model: token work at prefill and decode rates,
// slowed while several slots share the machine. Pure, so a benchmark can calibrate it against a real server.
import { type EmulatorSettings } from './settings';

export type ServiceRates = Pick<
  EmulatorSettings,
  'latencyMs' | 'prefillTokensPerS' | 'decodeTokensPerS' | 'parallelSpeedup'
>;

export interface RequestTokens {
  promptTokens: number;
  /** 0 for embeddings: they only prefill. */
  completionTokens: number;
}

export interface ServiceLoad extends RequestTokens {
  /** Slots computing at the same time, this request's included (at least 1). */
  busySlots: number;
}

/** Milliseconds a slot needs for a request's tokens while it computes alone. */
export function soloWorkMs({ promptTokens, completionTokens }: RequestTokens, s: ServiceRates): number {
  return (promptTokens / s.prefillTokensPerS + completionTokens / s.decodeTokensPerS) * 1000;
}

/**
 * Fraction of its solo speed each of `busySlots` computing slots runs at: slots share one machine, so
 * all of them together reach at most `parallelSpeedup` times the throughput of one.
 */
export function slotSpeed(busySlots: number, s: Pick<ServiceRates, 'parallelSpeedup'>): number {
  return Math.min(1, s.parallelSpeedup / Math.max(1, busySlots));
}

/**
 * Service time in ms (without jitter) of a request while `busySlots` slots compute the whole time: the
 * fixed `latencyMs` overhead plus its token work at the shared speed. The emulator runs the same model
 * event by event, re-sharing the machine whenever a slot starts or stops computing.
 */
export function serviceTimeMs(load: ServiceLoad, s: ServiceRates): number {
  return s.latencyMs + soloWorkMs(load, s) / slotSpeed(load.busySlots, s);
}
