/** `pladder doctor`: what the kernels will run on, and whether that is fit to train. */
import { isSlowBlas, kernelFor, SLOW_BLAS_GFLOPS } from '../bridge/index.js';

export interface DoctorReport {
  python: string;
  pythonVersion: string;
  torch: string;
  torchvision: string | null;
  device: string;
  deviceDetail: string;
  blas: string;
  matmulGflops: number | null;
  slowBlas: boolean;
}

export async function doctor(device: string): Promise<DoctorReport> {
  // Report a slow BLAS rather than refusing to start: saying so is the doctor's job.
  const kernel = kernelFor(device, { allowSlowBlas: true });
  const env = await kernel.call('environment', { measure_matmul: true });
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  return {
    python: env.python,
    pythonVersion: env.python_version,
    torch: env.torch,
    torchvision: env.torchvision,
    device: env.device,
    deviceDetail: env.cuda_name ? `${env.cuda_name}, ${gib(env.cuda_memory_bytes ?? 0)}` : `CPU, ${env.threads} threads`,
    blas: env.blas,
    matmulGflops: env.matmul_gflops,
    slowBlas: isSlowBlas(env),
  };
}

export function formatDoctor(report: DoctorReport): string {
  const rows: [string, string][] = [
    ['interpreter', `${report.python} (Python ${report.pythonVersion})`],
    ['torch', `${report.torch}, torchvision ${report.torchvision ?? 'MISSING'}`],
    ['device', `${report.device}: ${report.deviceDetail}`],
    ['BLAS', report.blas],
    [
      'matmul',
      report.matmulGflops === null
        ? 'not measured'
        : `${report.matmulGflops.toFixed(1)} GFLOP/s (1024x1024 float32)${report.slowBlas ? `  SLOW: below ${SLOW_BLAS_GFLOPS} with no optimised BLAS loaded; install OpenBLAS (Debian: apt-get install libopenblas0-pthread)` : '  ok'}`,
    ],
  ];
  return rows.map(([key, value]) => `  ${key.padEnd(12)} ${value}`).join('\n');
}
