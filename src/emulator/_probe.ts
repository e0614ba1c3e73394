import { answerJsonSchema, renderEnvelope } from '../domain/llm-tasks';
import { InferenceEngine } from './engine';
import { resolveEmulatorSettings } from './settings';
import { TruthSource } from './truth-source';
import { parseChatCompletionRequest, chatCompletionBody } from './openai-wire';
const s = resolveEmulatorSettings({});
const e = new InferenceEngine(() => s, new TruthSource(undefined));
function body(n: number, k: number) {
  const items = Array.from({ length: k }, (_, j) => ({ id: `w${n}-${j}`, text: `TOTAL ${n + j}`, label: 'GRAND_TOTAL' }));
  return JSON.stringify({ model: 'm', messages: [{ role: 'system', content: 'You review labels of receipt words. Answer JSON only. '.repeat(10) }, { role: 'user', content: `Review.\n${renderEnvelope({ task: 'label_review', items })}` }], response_format: { type: 'json_schema', json_schema: { name: 'label_review', schema: answerJsonSchema('label_review'), strict: true } } });
}
for (const k of [3, 20]) {
  const bodies = Array.from({ length: 2000 }, (_, n) => body(n, k));
  const t = performance.now();
  for (const b of bodies) { const r = parseChatCompletionRequest(JSON.parse(b)); const out = e.chat(r); JSON.stringify(chatCompletionBody(out, 'm', 'id', 1)); }
  console.log(k, 'items: us per chat', ((performance.now() - t) / 2000 * 1000).toFixed(1));
}
