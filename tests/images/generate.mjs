// Test images made from the committed ones on first use (see README.md): big files stay out of
// git. Sharp is a devDependency (wrangler's local Images binding runs on it too).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const HERE = dirname(fileURLToPath(import.meta.url));
export const GENERATED = join(HERE, 'generated');

const MAKE = {
  // Noise defeats JPEG compression: about 9 MB, over the default 5 MiB upload limit.
  'large-3840x2400.jpg': async () => {
    const noise = await sharp({ create: { width: 3840, height: 2400, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    return sharp(join(HERE, 'landscape-3840x2400.jpg')).composite([{ input: noise, blend: 'overlay' }]).jpeg({ quality: 96, chromaSubsampling: '4:4:4' }).toBuffer();
  },
};

/** Makes every generated image that is not there yet. */
export async function generateImages() {
  mkdirSync(GENERATED, { recursive: true });
  for (const [name, make] of Object.entries(MAKE)) {
    const path = join(GENERATED, name);
    if (!existsSync(path)) writeFileSync(path, await make());
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await generateImages();
