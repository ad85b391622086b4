/**
 * Preloaded (`node --import`) into service processes started by tests: when the test process
 * dies without cleaning up (killed by a timeout, say), the service kills itself instead of
 * running on as an orphan.
 */
const parent = process.ppid;

setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, "SIGKILL");
}, 1_000).unref();
