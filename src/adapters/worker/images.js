// Cloudflare Images through the [images] binding. The source streams in (tee'd past a SHA-256
// when `expect` is given, so that a wrong or cut-off read is noticed) and the output is read
// into one buffer: variants are stored in R2 and served from there. A watermark (`overlay`, a
// PNG) is drawn over the output at `draw`'s place.
export async function transformImage(binding, input, expect, transform, output, overlay, draw) {
  let source = input;
  let hashed = Promise.resolve(expect);
  if (expect) {
    const [forImages, check] = input.tee();
    const digest = new crypto.DigestStream('SHA-256');
    source = forImages;
    hashed = check.pipeTo(digest).then(async () => {
      const bytes = new Uint8Array(await digest.digest);
      return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    });
  }
  let bytes = null;
  let failure = null;
  try {
    let made = binding.input(source).transform(JSON.parse(transform));
    if (overlay) made = made.draw(new Response(overlay).body, JSON.parse(draw));
    const result = await made.output(JSON.parse(output));
    bytes = new Uint8Array(await result.response().arrayBuffer());
  } catch (e) {
    failure = String(e?.message ?? e);
  }
  const seen = await hashed.catch(() => null);
  if (seen !== expect) return { garbled: true };
  return failure === null ? { bytes } : { failure };
}
