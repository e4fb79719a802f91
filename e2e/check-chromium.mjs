// Fails early, with the fix, when the browser the end-to-end tests drive is missing.
import { existsSync } from 'node:fs';

const path = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(path)) {
  console.error(
    `End-to-end tests need Chromium at ${path}.\n` +
      'Install Debian\'s: apt-get update && apt-get install -y chromium  (or set LOUPE_CHROMIUM to another Chromium binary).',
  );
  process.exit(1);
}
