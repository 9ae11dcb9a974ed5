import { describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';

describe('pladder doctor', () => {
  it('reports the interpreter, torch, the device and a measured matmul rate', async () => {
    const result = await pladder(['doctor', '--device', 'cpu', '--json']);
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.python).toMatch(/python/);
    expect(report.torch).toMatch(/^\d+\.\d+/);
    expect(report.device).toBe('cpu');
    expect(report.deviceDetail).toMatch(/CPU, \d+ threads/);
    expect(report.matmulGflops).toBeGreaterThan(0);
    expect(typeof report.slowBlas).toBe('boolean');
    const mnist = report.datasets.find((d: { name: string }) => d.name === 'mnist');
    expect(mnist).toMatchObject({ found: true, train: 60000, test: 10000, checksum: 'official' });
    expect(report.datasets.map((d: { name: string }) => d.name)).toEqual(['mnist', 'svhn', 'mnist-m']);
  });

  it('says what to install when no Python with torch exists', async () => {
    const result = await pladder(['doctor'], { PLADDER_PYTHON: '/nonexistent/python3' });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain('No Python with torch, torchvision, numpy, scipy, jsonschema was found');
    expect(result.stderr).toContain('/nonexistent/python3 could not be run');
    expect(result.stderr).toContain('pip install -r requirements.txt');
    expect(result.stderr).toContain('python3-torch');
  });

  it('refuses an unknown command and a device that does not exist', async () => {
    const unknown = await pladder(['frobnicate']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const cuda = await pladder(['doctor', '--device', 'cuda:7']);
    expect(cuda.exitCode).toBe(2);
    expect(cuda.stderr).toMatch(/device 'cuda:7'/);
  });
});

describe('the slow-BLAS check', () => {
  it('flags a slow CPU only when no optimised BLAS is loaded (a busy machine is slow too)', async () => {
    const { isSlowBlas } = await import('../../src/bridge/index.js');
    const reference = { device: 'cpu', matmul_gflops: 5, blas: 'libblas.so.3' };
    expect(isSlowBlas(reference)).toBe(true);
    expect(isSlowBlas({ ...reference, blas: 'libblas.so.3, libopenblasp-r0.3.21.so' })).toBe(false);
    expect(isSlowBlas({ ...reference, matmul_gflops: 90 })).toBe(false);
    expect(isSlowBlas({ ...reference, device: 'cuda:0' })).toBe(false);
  });
});
