// The emulator's own control endpoint under /_emulator: metrics, the live config (GET, PUT/PATCH
// a validated patch) and reset.
import type http from 'node:http';
import { BadRequestError, readJsonObject, sendJson } from './http-util';
import { openAiError } from './openai-wire';
import { EmulatorSettingsError } from './settings';
import type { EmulatorState } from './state';

export async function serveControl(
  st: EmulatorState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  method: string,
): Promise<void> {
  if (path === '/_emulator/metrics' && method === 'GET') return sendJson(res, 200, st.metrics.snapshot());
  if (path === '/_emulator/config' && method === 'GET') return sendJson(res, 200, st.publicSettings());
  if (path === '/_emulator/config' && (method === 'PUT' || method === 'PATCH'))
    return patchConfig(st, req, res);
  if (path === '/_emulator/reset' && method === 'POST') {
    st.reset();
    return sendJson(res, 200, { ok: true });
  }
  sendJson(
    res,
    404,
    openAiError(
      `Unknown control route ${method} ${path}. Known: GET /_emulator/metrics, GET|PUT /_emulator/config, POST /_emulator/reset.`,
      'invalid_request_error',
    ),
  );
}

/** Applies a settings patch live; 400 naming the bad fields. */
async function patchConfig(
  st: EmulatorState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  try {
    st.update(await readJsonObject(req));
  } catch (err) {
    if (err instanceof EmulatorSettingsError) {
      return sendJson(
        res,
        400,
        openAiError(err.message, 'invalid_request_error', err.fields.join(',') || null, 'invalid_settings'),
      );
    }
    if (err instanceof BadRequestError)
      return sendJson(res, err.status, openAiError(err.message, 'invalid_request_error'));
    throw err;
  }
  sendJson(res, 200, st.publicSettings());
}
