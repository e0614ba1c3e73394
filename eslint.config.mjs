// ESLint flat config: type-aware rules; a floating promise in a workflow is a bug.
import tseslint from 'typescript-eslint';

/** dev/ (stack, emulator, generators, harness) is not in the worker image: src/ must not import it. */
const DEV_IMPORTS = {
  group: ['**/dev', '**/dev/**'],
  message: 'src/ must not import dev/ (the worker image ships without it): move what both need into src/.',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.data/**',
      '.tools/**',
      'eslint.config.mjs',
      'test/fixtures/quality/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/test return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['describe', 'test', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Small files and functions in the product code and the dev tooling (tests and fixtures may be longer).
    files: ['src/**/*.ts', 'dev/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400 }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // The product (what the worker image ships) never imports the dev tooling (dev/ is not in the image).
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [DEV_IMPORTS] }],
    },
  },
  {
    // Workflow code is replayed in Temporal's sandbox: no Node built-ins, and from the I/O layers
    // (activities, stores, the LLM layer, the stack) types only. Pure domain modules are fine.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'child_process', 'http', 'https', 'net', 'crypto'],
              message: 'Workflow code must not use Node built-ins: do the I/O in an activity.',
            },
            {
              group: [
                '**/activities',
                '**/activities/**',
                '**/stores/**',
                '**/llm/**',
                '**/stack/**',
                '**/emulator/**',
                '@aws-sdk/*',
                'openai',
                'ollama',
                'chromadb',
              ],
              allowTypeImports: true,
              message: 'Workflow code imports types only from the I/O layers: call an activity instead.',
            },
            // Repeated here: this block's rule replaces the src/** one for workflow files.
            DEV_IMPORTS,
          ],
        },
      ],
    },
  },
);
