import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { golden } from './support';

/**
 * Model output is text, never HTML: a bundle whose answer tokens decode to markup (an
 * <img onerror>, a <script>, a <b>) shows that markup as characters in the demo and in
 * <loupe-chat>, and none of it runs or becomes an element.
 */
const TOKENIZER = JSON.parse(readFileSync(new URL('../public/models/tiny-random-convllava/tokenizer.json', import.meta.url), 'utf8')) as {
  added_tokens: Record<string, unknown>[];
};
const MARKUP = ['<img src=x onerror="window.__pwned=1">', '<script>window.__pwned=2</script>', '<b id="bold">bold</b>'];

/** The tiny bundle's tokenizer, its first three answer tokens turned into markup. */
async function serveHostileTokenizer(page: Page): Promise<void> {
  const hostile = structuredClone(TOKENIZER);
  golden.greedy_ids.slice(0, 3).forEach((id, i) =>
    hostile.added_tokens.push({ id, content: MARKUP[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }),
  );
  await page.route('**/models/tiny-random-convllava/tokenizer.json', (route) => route.fulfill({ json: hostile }));
}

async function expectInert(page: Page, text: string): Promise<void> {
  for (const markup of MARKUP) expect(text).toContain(markup);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
}

test('the demo shows an answer made of markup tokens as text', async ({ page }) => {
  await serveHostileTokenizer(page);
  await page.goto('/?model=/models/tiny-random-convllava/&sample=shapes-200x150.png');
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  await expect(page.locator('#image-status')).toContainText('visual tokens');
  await page.getByLabel('Question', { exact: true }).fill(golden.question);
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
  const answer = page.locator('#conversation .assistant').first();
  await expectInert(page, (await answer.textContent()) ?? '');
  await expect(page.locator('#conversation img, #conversation script, #conversation b')).toHaveCount(0);
});

test('<loupe-chat> shows an answer made of markup tokens as text', async ({ page }) => {
  await serveHostileTokenizer(page);
  await page.goto('/e2e/harness/component.html');
  const chat = page.locator('loupe-chat');
  await expect(chat.locator('[part="status"]')).toContainText('Ready', { timeout: 120_000 });
  await chat.locator('input[type="file"]').setInputFiles('e2e/fixtures/tiny-random-convllava/image.png');
  await expect(chat.locator('[part="status"]')).toContainText('visual tokens', { timeout: 60_000 });
  const answered = page.evaluate(
    () => new Promise<string>((resolve) => document.querySelector('loupe-chat')!.addEventListener('loupe-answer', (e) => resolve((e as CustomEvent<{ answer: string }>).detail.answer))),
  );
  await chat.locator('[part="question"]').fill(golden.question);
  await chat.locator('[part="ask-button"]').click();
  await expectInert(page, await answered);
  await expect(chat.locator('[part="conversation"]')).toContainText(MARKUP[0]!);
  await expect(chat.locator('[part="conversation"] img, [part="conversation"] script, [part="conversation"] b')).toHaveCount(0);
});
