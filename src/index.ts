/** progressive-ladder as a library. */
export * from './bridge/index.js';
export { findPython, probePython, INSTALL_HINT, type PythonProbe } from './bridge/interpreter.js';
