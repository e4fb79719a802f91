import type { AnswerStats, LoadProgress, ModelInfo } from '..';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatProgress(p: LoadProgress): string {
  const size = p.totalBytes ? `${formatBytes(p.loadedBytes)} / ${formatBytes(p.totalBytes)}` : formatBytes(p.loadedBytes);
  switch (p.stage) {
    case 'download':
      return p.fromCache ? `Loaded ${p.file ?? ''} from the offline cache — ${size}` : `Downloading ${p.file ?? ''} — ${size}`;
    case 'session':
      return `Preparing ${p.file ?? ''}`;
    case 'ready':
      return 'Ready.';
    default:
      return `Loading ${p.stage}…`;
  }
}

export function formatModel(info: ModelInfo): string {
  const modules = Object.values(info.modules)
    .map((m) => `${m.module}: ${m.provider} (${m.dtype})${m.fallbackReason ? ` — fell back: ${m.fallbackReason}` : ''}`)
    .join(' · ');
  const gpu = info.gpu.available
    ? `GPU ${info.gpu.adapter?.vendor || 'adapter'} ${info.gpu.adapter?.architecture ?? ''}, max binding ${formatBytes(info.gpu.limits?.maxStorageBufferBindingSize ?? 0)}`
    : `no WebGPU (${info.gpu.reason ?? 'n/a'})`;
  const t = info.threads;
  const threads = `wasm ${t.threads} thread${t.threads === 1 ? '' : 's'}${t.reason ? ` (${t.crossOriginIsolated ? t.reason : 'page not cross-origin isolated'})` : ''}`;
  return `Loaded in ${Math.round(info.loadMs)} ms. ${modules}. ${gpu}. ${threads}.`;
}

/** A zoom: the first pass, and the region and second pass when it looked closer. */
export function formatZoom(z: NonNullable<AnswerStats['zoom']>): string {
  const first = `first pass ${z.firstPassMs.toFixed(0)} ms ("${z.firstAnswer.trim()}", confidence ${z.confidence.toFixed(2)})`;
  if (!z.zoomed || !z.region) return `${first}, kept: ${z.region ? 'sure enough' : 'the evidence points nowhere'}`;
  const { x, y, width, height } = z.region;
  const tokens = `${z.visualTokens} tokens${z.keptGlobal ? ' (global + zoomed)' : ' (zoomed only)'}`;
  const looks = (z.looks ?? []).map((l) => `${l.resolution} px "${l.answer.trim()}" (${l.confidence.toFixed(2)})`).join(', ');
  const chose = z.chose === 'first' ? ` · kept the first answer (surer than "${(z.zoomedAnswer ?? '').trim()}")` : z.resolution ? ` · answered from the ${z.resolution} px look` : '';
  return `zoomed to ${width}×${height} at (${x}, ${y}): ${first} · looks ${looks || 'none'} · region encodes ${z.encodeMs.toFixed(0)} ms · answers ${z.answerMs.toFixed(0)} ms, ${tokens}${chose}`;
}

export function formatStats(s: AnswerStats): string {
  const image = s.imageReused ? 'image features reused' : `preprocess ${s.preprocessMs.toFixed(0)} ms · encode ${s.encodeMs.toFixed(0)} ms`;
  return [
    image,
    `first token ${s.timeToFirstTokenMs.toFixed(0)} ms`,
    `${s.decodeTokensPerSecond.toFixed(1)} tokens/s`,
    `${s.tokensGenerated} tokens (${s.stopReason})`,
    `${s.reusedTokens}/${s.promptTokens} prompt tokens from cache`,
    ...(s.trimmedTurns > 0 ? [`${s.trimmedTurns} earliest turn${s.trimmedTurns === 1 ? '' : 's'} left out to fit the context`] : []),
    ...(s.zoom ? [formatZoom(s.zoom)] : []),
    `vision ${s.providers.vision_encoder} · embeddings ${s.providers.embed_tokens} · decoder ${s.providers.decoder_model_merged}`,
  ].join(' · ');
}
