// Shared fixtures of the emulator tests: a truth file, label-review prompts, SDK clients.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import {
  emptyTruth,
  renderEnvelope,
  type Label,
  type PromptEnvelope,
  type Truth,
} from '../../src/domain/llm-tasks';
import { type EmulatorMetrics } from '../../dev/emulator/metrics';

/** Words of a small label-review chunk: w1 and w3 carry planted wrong labels. */
export const REVIEW_ITEMS: Array<{ id: string; text: string; label: Label; truth: Label }> = [
  { id: 'w1', text: 'GRAND TOTAL', label: 'SUBTOTAL', truth: 'GRAND_TOTAL' },
  { id: 'w2', text: '12.99', label: 'LINE_TOTAL', truth: 'LINE_TOTAL' },
  { id: 'w3', text: 'VISA', label: 'PRODUCT_NAME', truth: 'PAYMENT_METHOD' },
  { id: 'w4', text: '2024-03-01', label: 'DATE', truth: 'DATE' },
  { id: 'w5', text: 'MILK 2%', label: 'PRODUCT_NAME', truth: 'PRODUCT_NAME' },
  { id: 'w6', text: 'TAX', label: 'TAX', truth: 'TAX' },
];

export function reviewTruth(): Truth {
  const truth = emptyTruth(7);
  for (const item of REVIEW_ITEMS) truth.words[item.id] = { label: item.truth };
  truth.places.p1 = {
    description: 'A gym with a pool.',
    amenities: ['pool', 'sauna'],
    hasWomenOnlyHours: true,
    hoursFrench: 'Lun-Ven 6h-22h',
  };
  truth.functions.f1 = { hasIssue: true, issues: [{ kind: 'SLEEP_IN_TEST', message: 'Uses sleep.' }] };
  return truth;
}

/** Writes `truth` to a fresh temp file; returns its path. */
export function writeTruthFile(truth: Truth = reviewTruth()): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emulator-truth-'));
  const file = path.join(dir, 'truth.json');
  fs.writeFileSync(file, JSON.stringify(truth));
  return file;
}

export function reviewPrompt(items = REVIEW_ITEMS): string {
  const envelope: PromptEnvelope = {
    task: 'label_review',
    items: items.map(({ id, text, label }) => ({ id, text, label })),
  };
  return `Review each word's label on this receipt. Answer JSON.\n\n${renderEnvelope(envelope)}`;
}

export function openAiClient(url: string): OpenAI {
  return new OpenAI({ apiKey: 'test', baseURL: `${url}/v1`, maxRetries: 0 });
}

export function ollamaClient(url: string): Ollama {
  return new Ollama({ host: url });
}

export async function getMetrics(url: string): Promise<EmulatorMetrics> {
  const res = await fetch(`${url}/_emulator/metrics`);
  return (await res.json()) as EmulatorMetrics;
}

/** Sends a raw JSON request (no SDK) and returns status, headers and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
