// A progress bar on stderr for `--wait` runs on a terminal (silent when not a TTY).
export function renderBar(done: number, failed: number, total: number, width = 30): string {
  const finished = done + failed;
  const ratio = total > 0 ? Math.min(1, finished / total) : 0;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${total} (${failed} failed) ${Math.round(ratio * 100)}%`;
}

export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true;
  update(done: number, failed: number, total: number, label = ''): void {
    if (!this.tty) return;
    process.stderr.write(`\r${label}${renderBar(done, failed, total)}`);
  }
  finish(): void {
    if (this.tty) process.stderr.write('\n');
  }
}
