// Several HTTP answers as one stream, for files stored in parts (Telegram's 20 MB getFile cap).
// The first piece is requested at once, so that its failure becomes an error answer; each next
// piece only when the stream has handed out everything before it. The stream is pull-based
// with no read-ahead, so at most one chunk is held at a time and no byte enters wasm memory.
//
// pieces: [[url, range header or null, from, len], ...]. A 206 answer is the piece itself; a
// 200 (a server that ignores Range) holds it at `from`, and the rest is skipped.

export async function openPieces(pieces, timeoutMs) {
  const open = async ([url, range], signal) => {
    const resp = await fetch(url, { headers: range ? { range } : {}, signal });
    return resp.status === 200 || resp.status === 206 ? resp : resp.status;
  };
  const first = await open(pieces[0], AbortSignal.timeout(timeoutMs));
  if (typeof first === 'number') return first;

  let index = 0;
  let reader = first.body.getReader();
  let skip = first.status === 200 ? pieces[0][2] : 0;
  let left = pieces[0][3];
  return new ReadableStream({
    async pull(controller) {
      for (;;) {
        if (left === 0) {
          await reader.cancel().catch(() => {});
          if (++index === pieces.length) return controller.close();
          const next = await open(pieces[index]);
          if (typeof next === 'number') return controller.error(new Error(`part ${index} answered HTTP ${next}`));
          reader = next.body.getReader();
          skip = next.status === 200 ? pieces[index][2] : 0;
          left = pieces[index][3];
        }
        const { done, value } = await reader.read();
        if (done) return controller.error(new Error(`part ${index} ended ${left} bytes early`));
        let chunk = value.subarray(Math.min(skip, value.length));
        skip -= value.length - chunk.length;
        chunk = chunk.subarray(0, left);
        left -= chunk.length;
        if (chunk.length > 0) return controller.enqueue(chunk);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
