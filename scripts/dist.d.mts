// Types of scripts/dist.mjs, for the tests that import it.
export const ROOT: string;
export function newestSourceMtime(root?: string): number | null;
export function distState(root?: string): 'fresh' | 'stale' | 'missing';
export interface BuildResult {
  ok: boolean;
  reason?: string;
  noCompiler?: boolean;
}
export function build(root?: string, options?: { onlyIfNeeded?: boolean }): BuildResult;
export function ensureBuilt(root?: string): BuildResult & { state: 'fresh' | 'stale' | 'missing'; built: boolean };
