import { expect, test } from '@playwright/test';

/** The quick start's demo page: loads the embedded bundle, takes the sample image, streams an answer. */
test('the demo answers a question about the sample image and shows its stats', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/');
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  await expect(page.locator('#model-status')).toContainText('decoder_model_merged:');
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  await expect(page.locator('#image-status')).toContainText('4 visual tokens');
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
  await expect(page.locator('#conversation .assistant')).not.toBeEmpty();
  await expect(page.locator('#conversation .user')).toHaveText('What is in the image?');
  await page.screenshot({ path: testInfo.outputPath('demo-answered.png'), fullPage: true });
  // Changing the strategy re-plans and re-encodes the same image.
  await page.getByLabel('Strategy').selectOption('tiles');
  await expect(page.locator('#image-status')).toContainText('(tiles)');
  await page.screenshot({ path: testInfo.outputPath('demo-tiles-plan.png'), fullPage: true });
  expect(errors).toEqual([]);
});
