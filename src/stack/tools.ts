// Finds the external binaries of the stack (temporal CLI, chroma server, time-skipping test server).
import fs from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../config';
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

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
