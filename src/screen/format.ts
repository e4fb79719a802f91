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

export function formatStats(s: AnswerStats): string {
  const image = s.imageReused ? 'image features reused' : `preprocess ${s.preprocessMs.toFixed(0)} ms · encode ${s.encodeMs.toFixed(0)} ms`;
  return [
    image,
    `first token ${s.timeToFirstTokenMs.toFixed(0)} ms`,
    `${s.decodeTokensPerSecond.toFixed(1)} tokens/s`,
    `${s.tokensGenerated} tokens (${s.stopReason})`,
    `${s.reusedTokens}/${s.promptTokens} prompt tokens from cache`,
    ...(s.trimmedTurns > 0 ? [`${s.trimmedTurns} earliest turn${s.trimmedTurns === 1 ? '' : 's'} left out to fit the context`] : []),
    `vision ${s.providers.vision_encoder} · embeddings ${s.providers.embed_tokens} · decoder ${s.providers.decoder_model_merged}`,
  ].join(' · ');
}
