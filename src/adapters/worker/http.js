// Headers cross between JavaScript and wasm as one string of "name:value" lines, instead of a
// call per header each way: on a view, header traffic was most of the Worker's own CPU.

export function headerLines(headers) {
  let lines = '';
  for (const [name, value] of headers) lines += `${name}:${value}\n`;
  return lines;
}

export function respond(status, lines, body) {
  const headers = new Headers();
  for (const line of lines.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon), line.slice(colon + 1));
  }
  return new Response(body, { status, headers });
}
