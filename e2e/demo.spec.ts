import { expect, test, type Page } from '@playwright/test';

/** The quick start's demo page, as a person uses it. */

async function openDemo(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // The random test bundle and the tiny sample keep these checks fast; the trained default
  // model has its own spec (loupe-synth.spec.ts).
  await page.goto('/?model=/models/tiny-random-convllava/&sample=shapes-200x150.png');
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  return errors;
}

test('the demo answers a question about the sample image and shows its stats', async ({ page }, testInfo) => {
  const errors = await openDemo(page);
  await expect(page.locator('#model-status')).toContainText('decoder_model_merged:');
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  await expect(page.locator('#image-status')).toContainText('4 visual tokens');
  await page.getByRole('button', { name: 'What colour is the circle?' }).click();
  await expect(page.getByLabel('Question', { exact: true })).toHaveValue('What colour is the circle?');
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
  await expect(page.locator('#conversation .assistant')).not.toBeEmpty();
  await expect(page.locator('#conversation .user')).toHaveText('What colour is the circle?');
  await expect(page.locator('#stats')).toContainText('vision webgpu · embeddings webgpu · decoder webgpu');
  await page.screenshot({ path: testInfo.outputPath('demo-answered.png'), fullPage: true });
  // A follow-up reuses the image's features: no second encode.
  await page.getByLabel('Question', { exact: true }).fill('And the square?');
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#conversation .assistant')).toHaveCount(2);
  await expect(page.locator('#stats')).toContainText('image features reused', { timeout: 120_000 });
  // Changing the strategy re-plans at once and re-encodes the same image.
  await page.getByLabel('Strategy').selectOption('tiles');
  await expect(page.locator('#plan-summary')).toContainText('tiles: 5 inputs, 20 visual tokens');
  await expect(page.locator('#image-status')).toContainText('(tiles)');
  await page.screenshot({ path: testInfo.outputPath('demo-tiles-plan.png'), fullPage: true });
  // A strategy this bundle's vision graph cannot take: the plan still shows; encoding says why.
  await page.getByLabel('Strategy').selectOption('multicrop');
  await page.getByLabel('max_crops').fill('4');
  await expect(page.locator('#plan-summary')).toContainText('multicrop');
  await expect(page.locator('#image-status')).toContainText('takes [pixel_values] (no "coords")');
  // ... and the page names the shipped bundle whose graph can, and switches to it with the same image.
  await expect(page.locator('#strategy-offer')).toContainText('needs a vision graph taking pixel_values + coords');
  await page.getByRole('button', { name: 'Switch to tiny MC-LLaVA (random; crops + coords)' }).click();
  await expect(page.locator('#image-status')).toContainText('(multicrop), 96 visual tokens', { timeout: 120_000 });
  await expect(page.locator('#strategy-offer')).toBeEmpty();
  await expect(page.locator('#model-url')).toHaveValue('/models/tiny-random-mcllava/');
  await page.screenshot({ path: testInfo.outputPath('demo-multicrop.png'), fullPage: true });
  // At phone width the page still fits.
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: testInfo.outputPath('demo-phone.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('stop ends a streaming answer and the next question still works', async ({ page }) => {
  await openDemo(page);
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  await expect(page.locator('#image-status')).toContainText('visual tokens');
  await page.getByRole('button', { name: 'Ask' }).click();
  const answer = page.locator('#conversation .assistant').first();
  await expect(answer).not.toBeEmpty({ timeout: 120_000 });
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(answer).toContainText('[stopped]');
  await expect(page.locator('#stats')).toContainText('(aborted)');
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#conversation .assistant')).toHaveCount(2);
  await expect(page.locator('#stats')).toContainText('max-tokens', { timeout: 120_000 });
});

test('a question asked while the image is still encoding waits for it, not answered from text alone', async ({ page }) => {
  await openDemo(page);
  // Choose a file and submit a question in the same task: the image cannot be encoded yet.
  await page.evaluate(async () => {
    const blob = await (await fetch('/e2e/fixtures/tiny-random-convllava/image.png')).blob();
    const files = new DataTransfer();
    files.items.add(new File([blob], 'image.png', { type: 'image/png' }));
    const input = document.querySelector<HTMLInputElement>('#file')!;
    input.files = files.files;
    input.dispatchEvent(new Event('change'));
    (document.querySelector<HTMLInputElement>('#question')!).value = 'What is in the image?';
    document.querySelector<HTMLFormElement>('#ask-form')!.requestSubmit();
  });
  await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
  await expect(page.locator('#conversation .user')).toHaveText('What is in the image?');
  await expect(page.locator('#conversation .error')).toHaveCount(0); // neither 'No image yet' nor the waiting note is left
  await expect(page.locator('#stats')).not.toContainText('image features reused'); // this answer used the fresh image
});

test('a bundle URL that 404s and a non-image file give clear errors; the app stays usable', async ({ page }) => {
  await openDemo(page);
  await page.getByLabel('Bundle URL').fill('/models/not-here/');
  await page.getByRole('button', { name: 'Load' }).click();
  await expect(page.locator('#model-status')).toContainText('Could not load the model');
  await expect(page.locator('#model-status')).toContainText('/models/not-here/');
  await page.getByLabel('Bundle URL').fill('/models/tiny-random-convllava/');
  await page.getByRole('button', { name: 'Load' }).click();
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  await page.getByLabel('Choose an image').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
  await expect(page.locator('#image-status')).toContainText('That image could not be used');
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  await expect(page.locator('#image-status')).toContainText('visual tokens');
});

test('keyboard only: load the sample, ask, and watch the answer stream in several updates', async ({ page }) => {
  await openDemo(page);
  await page.evaluate(() => {
    const w = window as unknown as { updates: number };
    w.updates = 0;
    new MutationObserver(() => w.updates++).observe(document.querySelector('#conversation')!, { subtree: true, characterData: true, childList: true });
  });
  const sample = page.getByRole('button', { name: 'Use the sample image' });
  await sample.focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('#image-status')).toContainText('visual tokens');
  await page.getByLabel('Question', { exact: true }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
  // The answer lives in a polite live region and arrived piece by piece.
  await expect(page.locator('#conversation')).toHaveAttribute('aria-live', 'polite');
  expect(await page.evaluate(() => (window as unknown as { updates: number }).updates)).toBeGreaterThan(3);
});
