import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError, type ProgressEvent } from '../../src/bridge/index.js';
import { scratchData } from '../helpers/data.js';

// A mirror on loopback: serves a file with HTTP Range support, and can cut the connection halfway through.
const body = randomBytes(3 << 20);
const md5 = createHash('md5').update(body).digest('hex');
let cutNext = false;
const server = http.createServer((request, response) => {
  const range = /bytes=(\d+)-/.exec(request.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  response.writeHead(range ? 206 : 200, { 'Content-Length': body.length - start, ...(range ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
  if (cutNext) {
    cutNext = false;
    response.write(body.subarray(start, start + (body.length - start) / 2), () => response.destroy());
  } else {
    response.end(body.subarray(start));
  }
});

const kernel = new Kernel({ device: 'cpu' });
const where = scratchData();
let url = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/test_32x32.mat`;
});
afterAll(async () => {
  server.close();
  await kernel.stop({ final: true });
});

describe('downloading SVHN (from a mirror on this machine)', () => {
  it('resumes a download cut halfway, with progress, and checks the md5', async () => {
    const dest = path.join(where.root, 'svhn');
    const final = path.join(dest, 'test_32x32.mat');
    cutNext = true;
    const cut = await kernel.call('data_download_svhn', { dest_dir: dest, split: 'test', url, md5 }).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(KernelError);
    expect((cut as KernelError).shortMessage).toMatch(/broke off|closed/);
    expect(existsSync(final)).toBe(false); // never a half-written final file
    const partial = statSync(`${final}.part`).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(body.length);

    const events: ProgressEvent[] = [];
    const done = await kernel.call('data_download_svhn', { dest_dir: dest, split: 'test', url, md5 }, { onProgress: (e) => events.push(e) });
    expect(done.path).toBe(final);
    expect(readFileSync(final).equals(body)).toBe(true);
    expect(existsSync(`${final}.part`)).toBe(false);
    expect(events[0]?.done).toBeGreaterThanOrEqual(partial); // it started where the cut left off
    expect(events.at(-1)).toMatchObject({ done: body.length, total: body.length });
  });

  it('refuses a file whose md5 is wrong and leaves nothing behind', async () => {
    const dest = path.join(where.root, 'svhn-bad');
    const error = await kernel.call('data_download_svhn', { dest_dir: dest, split: 'test', url, md5: '0'.repeat(32) }).catch((e: unknown) => e);
    expect((error as KernelError).shortMessage).toContain(`has md5 ${md5}, expected ${'0'.repeat(32)}`);
    expect(existsSync(path.join(dest, 'test_32x32.mat'))).toBe(false);
    expect(existsSync(path.join(dest, 'test_32x32.mat.part'))).toBe(false);
  });
});
