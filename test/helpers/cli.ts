import { execa } from 'execa';
import { VITE_NODE } from './processes.js';

/** Runs the pladder CLI from source (no build needed), never throwing on a non-zero exit. */
export function pladder(args: string[], env: NodeJS.ProcessEnv = {}) {
  return execa(VITE_NODE, ['src/cli/main.ts', ...args], { reject: false, env: { ...process.env, ...env } });
}
