import { readFileSync } from 'node:fs';
import { expect, type Page } from '@playwright/test';

export const BUNDLE = '/models/tiny-random-convllava/';
export const IMAGE = '/e2e/fixtures/tiny-random-convllava/image.png';

export interface GoldenValues {
  question: string;
  greedy_ids: number[];
  greedy_text: string;
}

export const golden = JSON.parse(readFileSync(new URL('./fixtures/tiny-random-convllava/golden.json', import.meta.url), 'utf8')) as GoldenValues;

/** Opens the harness page, which puts the public API on window.loupe. */
export async function openHarness(page: Page): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/e2e/harness/runtime.html');
  await expect(page.locator('#status')).toHaveText('ready');
  expect(errors).toEqual([]);
}
