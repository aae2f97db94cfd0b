// Headless Chromium (Debian's package, installed by scripts/test) for the page tests, and the
// folder their screenshots go to.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './harness.mjs';

export const SHOTS = join(ROOT, 'tests', 'screenshots');

export async function launch() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

/** A new page that collects console errors and uncaught exceptions into `errors`. */
export async function newPage(browser, { width = 1280, height = 900, colorScheme = 'light', origin } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  if (origin) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, context, errors };
}
