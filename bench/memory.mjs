// Peak memory of the browser, sampled from /proc (Linux): the proportional set size (PSS) of
// every Chromium process (browser, GPU, renderer; workers live in the renderer), so shared
// pages are not counted twice.
import { readFileSync, readdirSync } from 'node:fs';

function chromiumPssBytes() {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('chromium')) continue;
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total;
}

/** Samples the browser's PSS every `intervalMs` until stopped; returns { available, stop() -> peak bytes }. */
export function startMemorySampler(intervalMs = 200) {
  const available = (() => {
    try {
      readFileSync('/proc/self/smaps_rollup');
      return true;
    } catch {
      return false;
    }
  })();
  let peak = 0;
  const sample = () => (peak = Math.max(peak, chromiumPssBytes()));
  if (available) sample();
  const timer = available ? setInterval(sample, intervalMs) : undefined;
  return {
    available,
    stop() {
      clearInterval(timer);
      if (available) sample();
      return peak;
    },
  };
}

export { chromiumPssBytes };
