// A Node process that starts a kernel, prints its Python pid, then ends as argv[2] says: by waiting for a signal,
// by returning, or by throwing. Used to show that no Python process outlives Node.
import { Kernel } from '../../src/bridge/index.js';

const how = process.argv[2] ?? 'wait';
const kernel = new Kernel({ device: 'cpu' });
const { pid } = await kernel.call('ping', {});
process.stdout.write(`${pid}\n`);
if (how === 'wait') setInterval(() => undefined, 1000);
if (how === 'throw') throw new Error('thrown on purpose');
// 'return': fall off the end without stopping the kernel; Node must still exit and take Python with it.
