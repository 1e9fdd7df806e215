// Runs the CLI in-process (the same `run` the bin calls) and captures what it prints, its exit code and
// its one-line error, as a shell would see them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describeError, run } from '../../src/cli.ts';

/** The real bin as a child process, for what only a process shows (exit status, stdout vs stderr). */
export const exec = promisify(execFile);

export async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  try {
    await run(args, env, (s) => out.push(s));
    return { code: 0, out: out.join('\n'), err: '' };
  } catch (e) {
    const { line, code } = describeError(e);
    return { code, out: out.join('\n'), err: line };
  }
}
