import { defineConfig } from '@playwright/test';
import { LAUNCH_ARGS } from './launch-args';

/** Debian's Chromium by default (Playwright's own browser download is not used); override with LOUPE_CHROMIUM. */
const executablePath = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const port = Number(process.env.LOUPE_E2E_PORT ?? 5199);
/** The production build (service worker, precache) is served here for the offline tests. */
export const PREVIEW_PORT = Number(process.env.LOUPE_PREVIEW_PORT ?? 5198);

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  timeout: 180_000,
  expect: { timeout: 60_000 },
  workers: 1,
  reporter: process.env.CI ? [['list']] : [['list']],
  outputDir: '../test-results',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath,
      args: LAUNCH_ARGS,
    },
  },
  webServer: [
    {
      command: `npx vite --port ${port} --strictPort --host 127.0.0.1`,
      url: `http://127.0.0.1:${port}/e2e/harness/runtime.html`,
      cwd: '..',
      reuseExistingServer: !process.env.CI,
      timeout: 120_000,
    },
    {
      command: `npx vite build --logLevel error && npx vite preview --port ${PREVIEW_PORT} --strictPort --host 127.0.0.1`,
      url: `http://127.0.0.1:${PREVIEW_PORT}/`,
      cwd: '..',
      reuseExistingServer: !process.env.CI,
      timeout: 180_000,
    },
  ],
});
