/** The project's environment variables set to nonsense: each command refuses before any work, naming the variable and
 * what to give it (exit 2, no stack trace); PLADDER_EXCHANGE_DIR under /proc once hung Node at full CPU, deaf to
 * SIGTERM, and a bad call timeout made every kernel call time out at once. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pladder-env-'));
const aFile = path.join(scratch, 'a-file');
writeFileSync(aFile, '');

describe('environment variables', () => {
  const { file } = tinyExperimentFile();
  it.each([
    ['PLADDER_EXCHANGE_DIR', '/proc', /PLADDER_EXCHANGE_DIR \/proc: \/proc is a kernel pseudo-filesystem/],
    ['PLADDER_EXCHANGE_DIR', '/proc/self', /PLADDER_EXCHANGE_DIR \/proc\/self: \/proc is a kernel pseudo-filesystem/],
    ['PLADDER_CALL_TIMEOUT_MS', 'abc', /PLADDER_CALL_TIMEOUT_MS=abc: give each kernel call's timeout in milliseconds, a whole number from 1 to 2147483647/],
    ['PLADDER_CALL_TIMEOUT_MS', '0', /PLADDER_CALL_TIMEOUT_MS=0: /],
    ['PLADDER_CALL_TIMEOUT_MS', '1e99', /PLADDER_CALL_TIMEOUT_MS=1e99: /],
    ['PLADDER_SOURCES', aFile, /PLADDER_SOURCES .*a-file: this is a file, not a directory/],
    ['PLADDER_CACHE', '/proc/x', /PLADDER_CACHE \/proc\/x: \/proc is a kernel pseudo-filesystem/],
    ['PLADDER_CACHE', '', /PLADDER_CACHE is set but empty: give it a directory, or unset it/],
  ])('%s=%j', async (name, value, message) => {
    const runsDir = path.join(scratch, `runs-${name}-${value.length}`);
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir], { [name]: value });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(runsDir)).toBe(false); // refused before anything was written
  }, 30_000);

  it('the shared-memory folder, under /dev, is a place for the exchange', async () => {
    const exchange = path.join('/dev/shm', `pladder-env-test-${process.pid}`);
    const result = await pladder(['doctor', '--device', 'cpu'], { PLADDER_EXCHANGE_DIR: exchange });
    rmSync(exchange, { recursive: true, force: true });
    expect(result.exitCode, result.stderr).toBe(0);
  }, 60_000);
});
