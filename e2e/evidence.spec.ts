import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { BUNDLE, IMAGE, golden, openHarness } from './support';

/**
 * Issue #16 in Chromium: an answer's evidence matches PyTorch (training/evidence.py) on both
 * providers, a zoomed answer runs its first pass and two closer looks, and the demo draws the
 * heat map and zooms.
 */
const bytes = readFileSync(new URL('./fixtures/tiny-random-convllava/evidence.f32', import.meta.url));
const expected = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));

for (const device of ['wasm', 'webgpu'] as const) {
  test(`evidence matches PyTorch within 1e-3 and zoom runs its passes, on ${device}`, async ({ page }) => {
    await openHarness(page);
    const result = await page.evaluate(
      async ({ bundle, image, device, question }) => {
        const model = await window.loupe.loadModel(bundle, { device, dtype: 'fp32' });
        const chat = model.chat();
        await chat.setImage(await (await fetch(image)).blob());
        const ids: (number | null)[] = [];
        for await (const piece of chat.ask(question, { maxNewTokens: 16, evidence: true })) ids.push(piece.tokenId);
        const evidence = chat.evidence!;
        const plain = { attention: Array.from(evidence.attention), scores: Array.from(evidence.scores), boxes: evidence.boxes, top: evidence.top, stats: chat.stats };
        // The zoomed answer: a new chat about the same image (its first turn).
        const zoomChat = model.chat();
        await zoomChat.setImage(await (await fetch(image)).blob());
        let zoomedText = '';
        // margin 1: a closer look's answer is given whatever the confidences (the default compares
        // them); two looks, at 64 and at the bundle's 128 px.
        for await (const piece of zoomChat.ask(question, { maxNewTokens: 8, zoom: { margin: 1, resolution: [64, 128] } })) zoomedText += piece.text;
        const zoomStats = zoomChat.stats;
        // A follow-up after the zoomed answer sees the image as it was set: 4 tokens again.
        for await (const piece of zoomChat.ask('And then?', { maxNewTokens: 2 })) void piece;
        const followUp = zoomChat.stats;
        await model.dispose();
        return { ids, plain, zoomedText, zoomStats, zoomTop: zoomChat.evidence?.top, followUp };
      },
      { bundle: BUNDLE, image: IMAGE, device, question: golden.question },
    );
    expect(result.ids).toEqual(golden.greedy_ids);
    const diff = Math.max(...result.plain.attention.map((v, i) => Math.abs(v - expected[i]!)));
    expect(diff).toBeLessThan(1e-3);
    expect(result.plain.scores.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    // 200 x 150 padded to a square: 2 x 2 tokens of 100 px, the top row over 25 px of image.
    expect(result.plain.boxes.map((b) => [b.x, b.y, b.width, b.height])).toEqual([[0, 0, 100, 75], [100, 0, 100, 75], [0, 75, 100, 75], [100, 75, 100, 75]]);
    // Two layers x 4 bytes per key position: the prefill row (80 keys), then 15 steps (81 .. 95 keys).
    if (device === 'webgpu') expect(result.plain.stats!.transferBytes.evidenceRead).toBe(2 * 4 * (80 + 1320));
    else expect(result.plain.stats!.transferBytes.evidenceRead).toBe(0);
    const zoom = result.zoomStats!.zoom!;
    expect(zoom.region).toEqual(result.zoomTop);
    expect(zoom.region!.width).toBeGreaterThan(0);
    expect(zoom.region!.x + zoom.region!.width).toBeLessThanOrEqual(200);
    expect(zoom).toMatchObject({ zoomed: true, keptGlobal: true, chose: 'zoomed', zoomedAnswer: result.zoomedText });
    // The two looks: 4 global tokens + 1, + 4; the surer one answered.
    const looks = zoom.looks!;
    expect(looks.map((l) => [l.resolution, l.visualTokens])).toEqual([[64, 5], [128, 8]]);
    const surest = looks[1]!.confidence > looks[0]!.confidence ? looks[1]! : looks[0]!;
    expect(zoom).toMatchObject({ resolution: surest.resolution, visualTokens: surest.visualTokens, zoomedAnswer: surest.answer });
    expect(zoom.encodeMs).toBeCloseTo(looks[0]!.encodeMs + looks[1]!.encodeMs, 6);
    expect(zoom.confidence).toBeGreaterThan(0);
    expect(zoom.firstPassMs).toBeGreaterThan(0);
    expect(zoom.answerMs).toBeGreaterThan(0);
    expect(result.zoomedText.length).toBeGreaterThan(0);
    expect(result.followUp!.zoom).toBeUndefined();
    // The zoomed pass reuses the cached template text before the image.
    expect(result.zoomStats!.reusedTokens).toBe((golden as unknown as { input_ids_expanded: number[] }).input_ids_expanded.indexOf(3));
  });
}

test('the demo draws the evidence over the image, zooms on a click, and answers with a closer look', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/?model=/models/tiny-random-convllava/&sample=shapes-200x150.png&device=wasm');
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  await expect(page.locator('#image-status')).toContainText('4 visual tokens');
  const canvas = page.locator('#preview');
  const snapshot = () => canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
  const plain = await snapshot();
  await page.getByLabel('Show evidence').check();
  await page.getByLabel('Look closer').check();
  await page.getByLabel('Question', { exact: true }).fill('What colour is the circle?');
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#stats')).toContainText('zoomed to', { timeout: 120_000 });
  await expect(page.locator('#stats')).toContainText('(global + zoomed)');
  await expect.poll(snapshot).not.toBe(plain);
  const heat = await snapshot();
  await page.screenshot({ path: testInfo.outputPath('evidence-heat.png'), fullPage: true });
  // The heat map toggles off and on (the box stays).
  await page.getByLabel('Show evidence').uncheck();
  await expect.poll(snapshot).not.toBe(heat);
  await page.getByLabel('Show evidence').check();
  await expect.poll(snapshot).toBe(heat);
  // Clicking inside the evidence box zooms the view there; another click goes back.
  const box = await page.evaluate(() => {
    const stats = document.getElementById('stats')!.textContent!;
    const match = /zoomed to (\d+)×(\d+) at \((\d+), (\d+)\)/.exec(stats)!;
    return { width: Number(match[1]), height: Number(match[2]), x: Number(match[3]), y: Number(match[4]) };
  });
  const bounds = (await canvas.boundingBox())!;
  const scale = Math.min(480 / 200, 320 / 150) * (bounds.width / 480);
  await canvas.click({ position: { x: (box.x + box.width / 2) * scale, y: (box.y + box.height / 2) * scale } });
  await expect.poll(snapshot).not.toBe(heat);
  await page.screenshot({ path: testInfo.outputPath('evidence-zoomed.png'), fullPage: true });
  await canvas.click({ position: { x: 5, y: 5 } });
  await expect.poll(snapshot).toBe(heat);
  expect(errors).toEqual([]);
});

test('<loupe-chat evidence zoom="auto"> draws the evidence over its image and zooms on a click', async ({ page }) => {
  await page.goto('/e2e/harness/component.html');
  const chat = page.locator('loupe-chat');
  await chat.evaluate((element) => {
    element.setAttribute('evidence', '');
    element.setAttribute('zoom', 'auto');
  });
  await expect(chat.locator('[part="status"]')).toContainText('Ready', { timeout: 120_000 });
  await chat.locator('input[type="file"]').setInputFiles('e2e/fixtures/tiny-random-convllava/image.png');
  await expect(chat.locator('[part="status"]')).toContainText('visual tokens', { timeout: 60_000 });
  const canvas = chat.locator('[part="evidence"]');
  await expect(canvas).toBeHidden();
  await expect(chat.locator('input[name="evidence"]')).toBeChecked();
  const answered = page.evaluate(
    () =>
      new Promise<{ zoomed: boolean | undefined }>((resolve) =>
        document.querySelector('loupe-chat')!.addEventListener('loupe-answer', (e) => resolve({ zoomed: (e as CustomEvent<{ stats: { zoom?: { zoomed: boolean } } }>).detail.stats.zoom?.zoomed })),
      ),
  );
  await chat.locator('[part="question"]').fill(golden.question);
  await chat.locator('[part="ask-button"]').click();
  expect((await answered).zoomed).toBe(true);
  await expect(canvas).toBeVisible();
  const snapshot = () => canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
  const heat = await snapshot();
  await chat.locator('input[name="evidence"]').uncheck();
  await expect.poll(snapshot).not.toBe(heat);
  await chat.locator('input[name="evidence"]').check();
  await expect.poll(snapshot).toBe(heat);
  // The evidence box spans the image here (2 x 2 tokens, evidence spread): a click in its middle zooms.
  const bounds = (await canvas.boundingBox())!;
  await canvas.click({ position: { x: bounds.width * 0.4, y: bounds.height * 0.4 } });
  await expect.poll(snapshot).not.toBe(heat);
});
