// Draws encode time against input megapixels as an SVG line chart, one series per graph.
// Used by `npm run bench -- --scaling`; no dependencies, so the chart is reproducible anywhere.
// Redraw from saved results: node bench/chart.mjs bench/results/scaling.jsonl > bench/results/scaling.svg
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const COLORS = { convnext: '#2f6fdf', vit: '#d9480f' };
const W = 720;
const H = 420;
const M = { left: 70, right: 20, top: 48, bottom: 56 };

function niceStep(max, ticks) {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= raw);
}

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * points: [{ graph, size, median, error? }]; labels: { [graph]: legend text }.
 * Returns an SVG document as a string.
 */
export function scalingChart(points, labels, title) {
  const ok = points.filter((p) => !p.error && Number.isFinite(p.median));
  const mp = (p) => (p.size * p.size) / 1e6;
  const xMax = Math.max(...ok.map(mp)) * 1.05;
  const yMax = Math.max(...ok.map((p) => p.median / 1000)) * 1.08;
  const xStep = niceStep(xMax, 8);
  const yStep = niceStep(yMax, 6);
  const x = (v) => M.left + (v / xMax) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
  ];
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x(v)}" y="${H - M.bottom + 16}" text-anchor="middle">${+v.toFixed(2)}</text>`);
  }
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`);
  }
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">input megapixels (square side² / 10⁶)</text>`);
  out.push(`<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">encode time (s)</text>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  const legendX = M.left + (W - M.left - M.right) * 0.3;
  let legendY = M.top + 8;
  for (const graph of Object.keys(labels)) {
    const series = ok.filter((p) => p.graph === graph);
    const color = COLORS[graph] ?? '#555';
    if (series.length) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${series.map((p) => `${x(mp(p)).toFixed(1)},${y(p.median / 1000).toFixed(1)}`).join(' ')}"/>`);
      for (const p of series) out.push(`<circle cx="${x(mp(p)).toFixed(1)}" cy="${y(p.median / 1000).toFixed(1)}" r="3.5" fill="${color}"><title>${p.size} px: ${p.median.toFixed(0)} ms</title></circle>`);
      const last = series[series.length - 1];
      out.push(`<text x="${x(mp(last)) + 6}" y="${y(last.median / 1000) + 4}" fill="${color}">${last.size}²</text>`);
    }
    out.push(`<rect x="${legendX}" y="${legendY - 9}" width="14" height="4" fill="${color}"/>`);
    out.push(`<text x="${legendX + 20}" y="${legendY - 4}">${escape(labels[graph])}</text>`);
    legendY += 18;
    const failed = points.find((p) => p.graph === graph && p.error);
    if (failed) {
      const why = /bad_alloc/.test(failed.error) ? 'out of wasm memory (std::bad_alloc)' : `failed (${failed.error.replace(/^.*ERROR_MESSAGE: /, '')})`;
      out.push(`<text x="${legendX + 20}" y="${legendY - 4}" fill="${color}">${failed.size}²: ${escape(why)}</text>`);
      legendY += 18;
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The chart of a scaling.jsonl written by bench/run.mjs --scaling (its browser records). */
export function chartFromJsonl(text) {
  const records = text.trim().split('\n').map((line) => JSON.parse(line));
  const machine = records.find((r) => r.machine)?.machine ?? {};
  const browser = records.filter((r) => r.runtime === 'onnxruntime-web');
  const points = browser.map((r) => ({ graph: r.model.split(' ')[0], size: r.resolution, median: r.median ?? NaN, ...(r.error ? { error: r.error } : {}) }));
  const label = (graph, what) => {
    const record = browser.find((r) => r.model.startsWith(graph));
    // A side of S pixels gives S/stride tokens: the stride follows from any measured point.
    const measured = browser.find((r) => r.model.startsWith(graph) && r.visual_tokens > 0);
    const stride = Math.round(measured.resolution / Math.sqrt(measured.visual_tokens));
    return `${what}, ${record.model.replace(/^\S+ \((.*) params.*$/, '$1')} params, S/${stride} tokens per side`;
  };
  const threads = browser[0]?.threads ?? 1;
  return scalingChart(points, { convnext: label('convnext', 'ConvNeXt, 5 stages (ConvLLaVA)'), vit: label('vit', 'ViT, patch 14 (LLaVA-1.5 style)') }, `Vision encode time vs input pixels — Chromium ${machine.browser}, wasm × ${threads} threads`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(chartFromJsonl(readFileSync(process.argv[2], 'utf8')));
