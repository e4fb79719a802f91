// Peak memory of the browser, sampled from /proc (Linux): the proportional set size (PSS) of
// every Chromium process (browser, GPU, renderer; workers live in the renderer), so shared
// pages are not counted twice. The page says which runtime is working ("bench-phase NAME" on
// its console) and each phase keeps its own peak.
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

export function startMemorySampler(page, intervalMs = 200) {
  const peaks = new Map();
  let phase = 'startup';
  const sample = () => peaks.set(phase, Math.max(peaks.get(phase) ?? 0, chromiumPssBytes()));
  const available = (() => {
    try {
      readFileSync('/proc/self/smaps_rollup');
      return true;
    } catch {
      return false;
    }
  })();
  if (available) sample();
  const timer = available ? setInterval(sample, intervalMs) : undefined;
  page.on('console', (message) => {
    const text = message.text();
    if (!text.startsWith('bench-phase ')) return;
    if (available) sample();
    phase = text.slice('bench-phase '.length);
  });
  return {
    available,
    /** Peak PSS bytes per phase (phase name -> bytes). */
    stop() {
      clearInterval(timer);
      return peaks;
    },
  };
}
