// Peak memory of the browser, sampled from /proc (Linux): the proportional set size (PSS) of
// every Chromium process (browser, GPU, renderer; workers and their wasm heaps live in the
// renderer), so shared pages are not counted twice. Each sample is also split by process type.
import { readFileSync, readdirSync } from 'node:fs';

/** The process's role from its command line: renderer, gpu-process, utility, zygote, or browser. */
function processType(pid) {
  // Chromium rewrites its argv: one string, arguments separated by spaces (or NULs).
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
  const type = args.find((a) => a.startsWith('--type='));
  return type ? type.slice('--type='.length) : 'browser';
}

/** PSS of all Chromium processes now: total bytes and bytes per process type. */
function chromiumPss() {
  const byType = {};
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('chromium')) continue;
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (!match) continue;
      const bytes = Number(match[1]) * 1024;
      const type = processType(pid);
      byType[type] = (byType[type] ?? 0) + bytes;
      total += bytes;
    } catch {
      // The process ended between listing and reading.
    }
  }
  return { total, byType };
}

function chromiumPssBytes() {
  return chromiumPss().total;
}

/**
 * Samples the browser's PSS every `intervalMs` until stopped; returns { available, stop() }:
 * stop() gives the peak bytes, and `byType` the split by process type at that peak.
 */
export function startMemorySampler(intervalMs = 200) {
  const available = (() => {
    try {
      readFileSync('/proc/self/smaps_rollup');
      return true;
    } catch {
      return false;
    }
  })();
  let peak = { total: 0, byType: {} };
  const sample = () => {
    const now = chromiumPss();
    if (now.total > peak.total) peak = now;
  };
  if (available) sample();
  const timer = available ? setInterval(sample, intervalMs) : undefined;
  return {
    available,
    get byType() {
      return peak.byType;
    },
    stop() {
      clearInterval(timer);
      if (available) sample();
      return peak.total;
    },
  };
}

export { chromiumPss, chromiumPssBytes };
