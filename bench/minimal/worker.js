// The anchor for `scripts/bench serve`: the least a file host must do per view, as the
// "free image host on Cloudflare" tutorials write it in JavaScript: one KV read for the
// record, one R2 read, the body streamed back. PUT /seed/<id> stores an object to serve;
// GET /transform/<id>?w= streams it through the Images binding (what a transform costs the
// local runtime by itself).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, route, id] = url.pathname.split('/');
    if (request.method === 'PUT' && route === 'seed') {
      await env.IMAGES.put(`i/${id}`, request.body);
      await env.META.put(`img:${id}`, JSON.stringify({ key: `i/${id}`, type: request.headers.get('content-type') }));
      return new Response('ok');
    }
    if (route === 'transform') {
      const object = await env.IMAGES.get(`i/${id}`);
      const result = await env.IMAGE_TRANSFORMS.input(object.body).transform({ width: Number(url.searchParams.get('w')) }).output({ format: 'image/webp' });
      return new Response(await result.response().arrayBuffer(), { headers: { 'content-type': 'image/webp' } });
    }
    if (route !== 'file') return new Response('not found', { status: 404 });
    const meta = await env.META.get(`img:${id}`, 'json');
    if (!meta) return new Response('not found', { status: 404 });
    const object = await env.IMAGES.get(meta.key);
    if (!object) return new Response('not found', { status: 404 });
    return new Response(object.body, { headers: { 'content-type': meta.type, etag: object.httpEtag } });
  },
};
