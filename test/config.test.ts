// Config errors name the bad variable and say why, but never print its value (it may be a secret).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, describeConfigIssues, loadConfig } from '../src/config';

const SECRET = 'sk-proj-THIS-IS-A-SECRET-KEY-123';

test('a config error names every bad variable without printing any value', () => {
  const env = {
    OPENAI_API_KEY: SECRET,
    OPENAI_BASE_URL: `${SECRET}-not-a-url`,
    TEMPORAL_PORT: 'port-seventy',
    DYNAMODB_TABLE: 'x',
    LLM_PROVIDER: 'anthropic-secretish',
  };
  let message = '';
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      message = err.message;
      return true;
    },
  );
  for (const name of ['OPENAI_BASE_URL', 'TEMPORAL_PORT', 'DYNAMODB_TABLE', 'LLM_PROVIDER']) {
    assert.match(message, new RegExp(`^  ${name} \\(value hidden`, 'm'), `names ${name}`);
  }
  assert.doesNotMatch(message, /SECRET|port-seventy|anthropic|"x"/);
  assert.match(message, /Invalid URL/);
  assert.match(message, /expected one of "ollama"\|"openai"/);
});

test('a validator message that echoes the value has it cut out', () => {
  const lines = describeConfigIssues(
    [
      { path: ['OPENAI_API_KEY'], message: `must not be ${SECRET}` },
      { path: ['TEMPORAL_PORT'], message: 'Required' },
    ],
    { OPENAI_API_KEY: SECRET },
  );
  assert.deepEqual(lines, [
    `  OPENAI_API_KEY (value hidden, ${SECRET.length} characters): must not be <value>`,
    '  TEMPORAL_PORT (unset): Required',
  ]);
});
