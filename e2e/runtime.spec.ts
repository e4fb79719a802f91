import { expect, test } from '@playwright/test';
import { BUNDLE, IMAGE, golden, openHarness } from './support';

/**
 * The whole path in a real Chromium: bundle -> workers -> image -> vision graph ->
 * embeddings -> decoder -> streamed tokens, once per provider.
 */
for (const device of ['wasm', 'webgpu'] as const) {
  test(`answers with the PyTorch golden tokens, streamed, on ${device}`, async ({ page }) => {
    await openHarness(page);
    const result = await page.evaluate(
      async ({ bundle, image, device, question }) => {
        const progress: string[] = [];
        const model = await window.loupe.loadModel(bundle, { device, dtype: 'fp32', onProgress: (p) => progress.push(`${p.stage}:${p.file ?? ''}`) });
        const chat = model.chat();
        const summary = await chat.setImage(await (await fetch(image)).blob());
        const pieces: { text: string; tokenId: number | null; at: number }[] = [];
        for await (const piece of chat.ask(question, { maxNewTokens: 16 })) pieces.push({ ...piece, at: performance.now() });
        const info = model.info;
        const gpuMemory = await model.gpuMemory();
        await model.dispose();
        return { pieces, stats: chat.stats, modules: info.modules, gpu: info.gpu, threads: info.threads, cores: navigator.hardwareConcurrency, summary, progress, gpuMemory, hidden: info.spec.text.hiddenSize, workers: info.workers };
      },
      { bundle: BUNDLE, image: IMAGE, device, question: golden.question },
    );
    expect(result.pieces.map((p) => p.tokenId)).toEqual(golden.greedy_ids);
    expect(result.pieces.map((p) => p.text).join('')).toBe(golden.greedy_text);
    expect(result.pieces.length).toBeGreaterThan(1);
    expect(result.summary.visualTokens).toBe(4);
    for (const module of ['vision_encoder', 'embed_tokens', 'decoder_model_merged'] as const) {
      expect(result.modules[module].provider).toBe(device);
      expect(result.stats!.providers[module]).toBe(device);
      expect(result.modules[module].fallbackReason).toBeUndefined();
    }
    // The dev server sends COOP/COEP, so wasm runs multi-threaded (and still matches PyTorch).
    expect(result.threads).toEqual({ threads: Math.min(4, result.cores), crossOriginIsolated: true });
    // GPU buffers: the weights (at least half the graphs' bytes) and more on WebGPU; on wasm the
    // language worker holds none (the vision worker may still preprocess on a real GPU).
    const graphBytes = Object.values(result.modules).reduce((sum, m) => sum + m.bytes, 0);
    if (device === 'webgpu') expect(result.gpuMemory.live).toBeGreaterThan(graphBytes / 2);
    else expect(result.gpuMemory.language).toEqual({ live: 0, peak: 0 });
    expect(result.gpuMemory.peak).toBeGreaterThanOrEqual(result.gpuMemory.live);
    if (device === 'webgpu') {
      expect(result.gpu.available).toBe(true);
      expect(result.gpu.limits!.maxStorageBufferBindingSize).toBeGreaterThan(0);
    }
    expect(result.stats).toMatchObject({ stopReason: 'max-tokens', tokensGenerated: 16, promptTokens: 80, imageReused: false });
    expect(result.stats!.kvCacheLocation).toBe(device === 'webgpu' ? 'gpu-buffer' : 'cpu');
    // Logits read back: on WebGPU one 512-word row per step (prefill included); on wasm the
    // prefill's 80 rows, then one row per step.
    expect(result.stats!.logitsReadBytes).toBe(device === 'webgpu' ? 16 * 512 * 4 : (80 + 15) * 512 * 4);
    // What crossed between CPU and GPU: on WebGPU the prompt's embeddings once (the image's
    // features are merged into them on the CPU), then none: each decode step's embedding stays
    // on the GPU, and only token ids, mask and positions are written. On wasm nothing crosses.
    const transfer = result.stats!.transferBytes;
    expect(transfer.logitsRead).toBe(result.stats!.logitsReadBytes);
    if (device === 'webgpu') {
      expect(transfer.embedsRead).toBe(80 * result.hidden * 4);
      expect(transfer.written).toBeGreaterThan(80 * result.hidden * 4);
      // Written beyond the prompt's embeddings: 16 steps of ids, mask and positions (int64), no embeddings.
      expect(transfer.written - 80 * result.hidden * 4).toBeLessThan(16 * (8 + 8 * 96 + 8 + 8) + 80 * 8 * 3);
    } else {
      expect(transfer).toMatchObject({ embedsRead: 0, written: 0 });
    }
    expect(result.workers).toBe(device === 'wasm' ? 1 : 2);
    expect(result.stats!.encodeMs).toBeGreaterThan(0);
    expect(result.stats!.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(result.stats!.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(result.progress).toContain('download:onnx/decoder_model_merged.onnx');
    expect(result.progress).toContain('session:onnx/vision_encoder.onnx');
  });
}

test('runs the quantized variants (int8 vision and embeddings, q4 decoder) on WebGPU', async ({ page }) => {
  await openHarness(page);
  const result = await page.evaluate(
    async ({ bundle, image, question }) => {
      const model = await window.loupe.loadModel(bundle, {
        device: 'webgpu',
        dtype: { vision_encoder: 'int8', embed_tokens: 'int8', decoder_model_merged: 'q4' },
      });
      const chat = model.chat();
      await chat.setImage(await (await fetch(image)).blob());
      const ids: (number | null)[] = [];
      for await (const piece of chat.ask(question, { maxNewTokens: 8 })) ids.push(piece.tokenId);
      const modules = model.info.modules;
      await model.dispose();
      return { ids, modules };
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );
  expect(result.modules.decoder_model_merged).toMatchObject({ file: 'onnx/decoder_model_merged_q4.onnx', provider: 'webgpu' });
  expect(result.modules.vision_encoder).toMatchObject({ file: 'onnx/vision_encoder_int8.onnx', provider: 'webgpu' });
  expect(result.ids).toHaveLength(8);
  // 4-bit weights move the logits slightly (cosine >= 0.99 in the parity tests); the first token agrees.
  expect(result.ids[0]).toBe(golden.greedy_ids[0]);
});

for (const device of ['wasm', 'webgpu'] as const) {
  test(`a follow-up question reuses the image features and the KV cache on ${device}`, async ({ page }) => {
    await openHarness(page);
    const result = await page.evaluate(
      async ({ bundle, image, question, device }) => {
        const model = await window.loupe.loadModel(bundle, { device, dtype: 'fp32' });
        const chat = model.chat();
        await chat.setImage(await (await fetch(image)).blob());
        for await (const _ of chat.ask(question, { maxNewTokens: 4 })) void _;
        const first = chat.stats;
        let second = '';
        for await (const piece of chat.ask('And what colour is it?', { maxNewTokens: 4 })) second += piece.text;
        const history = chat.history.map((m) => m.role);
        await model.dispose();
        return { first, second: chat.stats, history, secondText: second };
      },
      { bundle: BUNDLE, image: IMAGE, question: golden.question, device },
    );
    expect(result.first!.imageReused).toBe(false);
    expect(result.second!.imageReused).toBe(true);
    expect(result.second!.encodeMs).toBe(0);
    // At least the first prompt with its image tokens comes from the cache (the random model's
    // junk answer need not re-tokenize to the ids it was generated as).
    expect(result.second!.reusedTokens).toBeGreaterThanOrEqual(80);
    expect(result.history).toEqual(['user', 'assistant', 'user', 'assistant']);
  });
}
