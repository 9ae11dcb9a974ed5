/** `pladder doctor`: what the kernels will run on, and whether that is fit to train. */
import { isSlowBlas, kernelFor, SLOW_BLAS_GFLOPS } from '../bridge/index.js';
import { DATASET_NAMES, describeDataset, resolveDataLocation } from '../data/index.js';

export interface DoctorReport {
  python: string;
  pythonVersion: string;
  torch: string;
  torchvision: string | null;
  device: string;
  deviceDetail: string;
  blas: string;
  fusedOps: string;
  matmulGflops: number | null;
  slowBlas: boolean;
  dataDir: string;
  /** Where dataDir came from: --data-dir, PLADDER_DATA, ./data or ../shared/data. */
  dataDirSource: string;
  datasets: { name: string; found: boolean; location: string; train: number | null; test: number | null; checksum: string }[];
}

export async function doctor(device: string, dataDir?: string): Promise<DoctorReport> {
  // Report a slow BLAS rather than refusing to start: saying so is the doctor's job.
  const kernel = kernelFor(device, { allowSlowBlas: true });
  const env = await kernel.call('environment', { measure_matmul: true });
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  const where = resolveDataLocation(dataDir);
  const datasets = [];
  for (const name of DATASET_NAMES) {
    const report = await describeDataset(kernel, name, where);
    const checksum = [...new Set(report.files.map((f) => f.checksum))].join(', ');
    datasets.push({ name, found: report.found, location: report.location, train: report.counts.train, test: report.counts.test, checksum });
  }
  return {
    python: env.python,
    pythonVersion: env.python_version,
    torch: env.torch,
    torchvision: env.torchvision,
    device: env.device,
    deviceDetail: env.cuda_name ? `${env.cuda_name}, ${gib(env.cuda_memory_bytes ?? 0)}` : `CPU, ${env.threads} threads`,
    blas: env.blas,
    fusedOps: env.fused_ops,
    matmulGflops: env.matmul_gflops,
    slowBlas: isSlowBlas(env),
    dataDir: where.dataDir,
    dataDirSource: where.source,
    datasets,
  };
}

export function formatDoctor(report: DoctorReport): string {
  const rows: [string, string][] = [
    ['interpreter', `${report.python} (Python ${report.pythonVersion})`],
    ['torch', `${report.torch}, torchvision ${report.torchvision ?? 'MISSING'}`],
    ['device', `${report.device}: ${report.deviceDetail}`],
    ['BLAS', report.blas],
    ['fused ops', report.fusedOps],
    [
      'matmul',
      report.matmulGflops === null
        ? 'not measured'
        : `${report.matmulGflops.toFixed(1)} GFLOP/s (1024x1024 float32)${report.slowBlas ? `  SLOW: below ${SLOW_BLAS_GFLOPS} with no optimised BLAS loaded; install OpenBLAS (Debian: apt-get install libopenblas0-pthread)` : '  ok'}`,
    ],
  ];
  rows.push(['data dir', `${report.dataDir} (from ${report.dataDirSource})`]);
  for (const d of report.datasets) {
    rows.push([d.name, d.found ? `found, ${d.train}/${d.test} examples, checksum ${d.checksum}  ${d.location}` : `not found in ${d.location} (pladder data says how to get it)`]);
  }
  return rows.map(([key, value]) => `  ${key.padEnd(12)} ${value}`).join('\n');
}
