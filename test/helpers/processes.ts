import { execa, type ResultPromise } from 'execa';
import path from 'node:path';

export const VITE_NODE = path.resolve('node_modules/.bin/vite-node');

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(predicate: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return predicate();
}

/** Starts test/helpers/hold-kernel.ts and resolves with the child and its kernel's Python pid. */
export async function holdKernel(how: 'wait' | 'return' | 'throw'): Promise<{ child: ResultPromise; pythonPid: number }> {
  const child = execa(VITE_NODE, ['test/helpers/hold-kernel.ts', how], { reject: false });
  const pythonPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^(\d+)\n/m.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', () => reject(new Error(`hold-kernel exited before printing a pid: ${out}`)));
  });
  return { child, pythonPid };
}
