/** No Python process outlives Node: kernels are ended when Node exits, throws, or receives SIGINT/SIGTERM.
 * (The kernel also ends itself if Node is killed outright: py_kernels/lifecycle.py.) */

type Stopper = () => void;
const live = new Set<Stopper>();
let installed = false;

export function trackKernel(stop: Stopper): () => void {
  live.add(stop);
  install();
  return () => live.delete(stop);
}

function stopAll(): void {
  for (const stop of live) {
    try {
      stop();
    } catch {
      // ending a process that is already gone is fine
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  stopAll();
  // If nobody else handles the signal, behave as Node would have without us: end with it.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', stopAll);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
