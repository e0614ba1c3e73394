// Error classes of the embedded stack, one per failure kind; each message says what to do next.

/** Base class: every failure of `stack up|down|status` is one of these. */
export class StackError extends Error {
  override name = 'StackError';
}

/** A port a service needs is held by a program we did not start. */
export class PortInUseError extends StackError {
  override name = 'PortInUseError';
  constructor(
    readonly service: string,
    readonly port: number,
    readonly envVar: string,
  ) {
    super(
      `${service}: port ${port} on 127.0.0.1 is already in use by another program, so ${service} cannot start.\n` +
        `  Either stop that program (find it with \`ss -ltnp 'sport = :${port}'\` or \`lsof -iTCP:${port} -sTCP:LISTEN\`),\n` +
        `  or pick another port: ${envVar}=<free port>.`,
    );
  }
}

/** A service we started did not answer its health check in time, or exited while starting. */
export class ServiceStartError extends StackError {
  override name = 'ServiceStartError';
  constructor(
    readonly service: string,
    reason: string,
    readonly logFile: string,
    readonly logTail: string,
  ) {
    super(
      `${service}: ${reason}.\n  Log: ${logFile}\n` +
        (logTail
          ? `  Last lines of the log:\n${indent(logTail, '    | ')}`
          : '  (it wrote nothing to its log)'),
    );
  }
}

/** A service configured as external (its env var set) does not answer. */
export class ExternalServiceError extends StackError {
  override name = 'ExternalServiceError';
  constructor(
    readonly service: string,
    readonly url: string,
    readonly envVar: string,
    cause: string,
  ) {
    super(
      `${service}: the external endpoint ${url} (from ${envVar}) does not answer its health check: ${cause}.\n` +
        `  Start that service, fix ${envVar}, or unset ${envVar} to let \`stack up\` run an embedded one.`,
    );
  }
}

/** A binary the stack needs (temporal CLI, chroma server) is not installed. */
export class ToolMissingError extends StackError {
  override name = 'ToolMissingError';
  constructor(
    readonly tool: string,
    readonly looked: string[],
    envVar: string,
  ) {
    super(
      `${tool} not found (looked in ${looked.join(', ')}).\n` +
        `  Run \`npm run tools\` (scripts/install-tools.sh) to install it, or set ${envVar} to its path.`,
    );
  }
}

/** An optional service was asked for (`stack up --ollama`) but its binary or data is not installed. */
export class ServiceNotInstalledError extends StackError {
  override name = 'ServiceNotInstalledError';
  constructor(
    readonly service: string,
    why: string,
  ) {
    super(`${service}: not installed: ${why}.`);
  }
}

/** Another `stack up|down` held the stack lock for too long. */
export class StackLockTimeoutError extends StackError {
  override name = 'StackLockTimeoutError';
  constructor(lockFile: string, holderPid: number | undefined, waitedMs: number) {
    super(
      `another \`stack\` command (pid ${holderPid ?? 'unknown'}) holds ${lockFile} and did not finish within ${Math.round(waitedMs / 1000)} s.\n` +
        `  Wait for it, or delete the lock file if that process is gone.`,
    );
  }
}

/** Refuses to wipe a DATA_DIR that is not clearly ours (`stack up --fresh`). */
export class UnsafeDataDirError extends StackError {
  override name = 'UnsafeDataDirError';
  constructor(dataDir: string, why: string) {
    super(
      `refusing to wipe DATA_DIR=${dataDir}: ${why}. Point DATA_DIR at a directory used only by the stack.`,
    );
  }
}

/** Several services failed to come up; each failure is kept. */
export class StackUpError extends StackError {
  override name = 'StackUpError';
  constructor(readonly failures: Error[]) {
    super(
      failures.length === 1
        ? (failures[0]?.message ?? 'stack up failed')
        : `${failures.length} services failed to start:\n${failures.map((f) => `- ${f.message}`).join('\n')}`,
    );
  }
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}
