// Injected status faults (`faultStatus` at `faultRate`): whether a request gets one, and the error body
// each API sends for that status.
import http from 'node:http';
import { ollamaServerErrorMessage } from './ollama-wire';
import { openAiError, serverErrorBody, type OpenAiErrorBody } from './openai-wire';
import { type SeededRandom } from './random';
import { type EmulatorSettings } from './settings';

/**
 * The status to answer a request with, or undefined. Draws from the fault stream only while status
 * faults are on, so turning them on leaves every other seeded outcome of a run as it was before.
 */
export function drawStatusFault(
  rng: SeededRandom,
  s: Pick<EmulatorSettings, 'faultStatus' | 'faultRate'>,
): number | undefined {
  if (s.faultStatus === undefined || s.faultRate <= 0) return undefined;
  return rng.next() < s.faultRate ? s.faultStatus : undefined;
}

/** Says in every message that the fault was injected, so nobody hunts for a real cause. */
const INJECTED = '(injected by the LLM emulator: faultStatus)';

/** OpenAI's type, code and message for the statuses clients treat specially. */
const OPENAI_STATUS_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message:
      'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  403: {
    type: 'invalid_request_error',
    code: 'unsupported_country_region_territory',
    message: 'Country, region, or territory not supported.',
  },
  404: {
    type: 'invalid_request_error',
    code: 'model_not_found',
    message: 'The model does not exist or you do not have access to it.',
  },
  429: {
    type: 'insufficient_quota',
    code: 'insufficient_quota',
    message: 'You exceeded your current quota, please check your plan and billing details.',
  },
};

export function openAiStatusErrorBody(status: number): OpenAiErrorBody {
  const known = OPENAI_STATUS_ERRORS[status];
  if (known) return openAiError(`${known.message} ${INJECTED}`, known.type, null, known.code);
  const base = status >= 500 ? serverErrorBody(status).error : undefined;
  return openAiError(
    `${base?.message ?? `${http.STATUS_CODES[status] ?? 'Error'}.`} ${INJECTED}`,
    status >= 500 ? 'server_error' : 'invalid_request_error',
    null,
    base?.code ?? null,
  );
}

/** Ollama's `{error}` message for a status (its server answers 4xx with short lowercase messages). */
export function ollamaStatusErrorMessage(status: number): string {
  const message =
    status === 401
      ? 'unauthorized'
      : status === 403
        ? 'forbidden'
        : status === 404
          ? 'model not found, try pulling it first'
          : status >= 500
            ? ollamaServerErrorMessage(status)
            : (http.STATUS_CODES[status] ?? 'error').toLowerCase();
  return `${message} ${INJECTED}`;
}
