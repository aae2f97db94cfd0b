// Reads a request body into wasm memory without leaving a trail of garbage chunks behind:
// a BYOB reader fills one 64 KiB buffer again and again (the runtime's own chunks would each be
// a new allocation, and a 20 MB upload left 70 MB of them for the collector).
export function bodyReader(stream) {
  let reader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    // Not a byte stream: its own chunks it is.
    const plain = stream.getReader();
    return { next: async () => { const { done, value } = await plain.read(); return done ? null : value; }, cancel: () => plain.cancel() };
  }
  let buffer = new ArrayBuffer(1 << 16);
  return {
    async next() {
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done) return null;
      buffer = value.buffer; // the same memory, handed back for the next read
      return value;
    },
    cancel: () => reader.cancel(),
  };
}
