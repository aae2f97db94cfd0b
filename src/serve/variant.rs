//! Serving transformed variants: `/file/<id>?w=800&f=auto`. A variant is made once, stored in
//! R2 under `v/<id>/<normalised options>` and served from there afterwards
//! (`X-Variant-Cache: hit`). Making new variants can be limited to signed URLs or a list of
//! widths; at most `MAX_VARIANTS_PER_IMAGE` are kept in R2 per image (past that they are made
//! and edge-cached, `X-Variant-Cache: not-stored`); variants that exist are always served. The Worker also keeps
//! answers in the edge cache (`X-Variant-Cache: edge`), keyed by [`edge_cache_key`].

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::sha256_hex;
use crate::budget::SOURCE_TOO_LARGE;
use crate::http::{Method, Request, Response};
use crate::index::record::{ImageMeta, Status};
use crate::library::render::Source;
use crate::library::variants::{canonical_query, signature, variant_prefix, THUMB_QUERY};
use crate::library::PLACEHOLDER_ALBUM;
use crate::platform::rate::Limit;
use crate::platform::{Blobs, EdgeCache, Images, Pool};
use crate::sniff::Format;
use crate::transform::engine::{self, Which};
use crate::transform::options::{negotiate, Options, OutFormat};
use crate::transform::same_format;
use crate::transform::watermark::Mark;

/// The edge-cache (Cache API) key for a transform: its URL, the image it is of (a placeholder
/// URL can come to name another image when it is made again), and which side of the `f=auto`
/// negotiation the client is on (the Cache API ignores `Vary`).
fn edge_cache_key(url: &url::Url, id: &str, requested: Option<OutFormat>, accept: &str, mark: Option<&Mark>) -> String {
    let side = match requested {
        Some(OutFormat::Auto) if accept.contains("image/webp") => "webp",
        Some(OutFormat::Auto) => "other",
        _ => "",
    };
    let join = if url.query().is_some() { '&' } else { '?' };
    let mark = mark.map(Mark::key).unwrap_or_default();
    format!("{url}{join}imgbed-image={id}&imgbed-accept={side}{mark}")
}

/// May this request create a new variant?
async fn guard<P: Platform>(app: &App<P>, req: &Request, id: &str, opts: &Options, pairs: &[(String, String)]) -> Result<(), ApiError> {
    let c = &app.config;
    let thumbnail = canonical_query(pairs) == THUMB_QUERY;
    if thumbnail || crate::access::guard::is_admin(app, req).await || (c.transform_signing_key.is_none() && c.transform_widths.is_empty()) {
        return Ok(());
    }
    let sig = pairs.iter().find(|(k, _)| k == "sig").map(|(_, v)| v.as_str());
    if let (Some(key), Some(sig)) = (&c.transform_signing_key, sig) {
        return if crate::base::ids::same_secret(&signature(key, id, pairs), sig) {
            Ok(())
        } else {
            Err(ApiError::forbidden("the transform signature (sig) does not match this URL"))
        };
    }
    let (w, h) = opts.target();
    let listed = |v: Option<u32>| v.is_none_or(|v| c.transform_widths.contains(&v));
    if !c.transform_widths.is_empty() && w.is_some() && listed(w) && listed(h) {
        return Ok(());
    }
    let widths = c.transform_widths.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    Err(ApiError::forbidden(if widths.is_empty() {
        "this server makes new variants only from signed URLs (sig=)".to_string()
    } else {
        format!("this server makes new variants only at widths {widths} (w=), or from signed URLs")
    }))
}

/// The original instead of a transform, for images no transform can open (animated, AVIF,
/// too large to decode within the budget, or damaged in a way only decoding finds): every
/// accepted image answers at every size.
fn original(meta: &ImageMeta, why: &str) -> Response {
    Response::empty(307).with_header("location", meta.file_path()).with_header("x-transform", format!("skipped: {why}"))
}

/// The watermark this request gets on `meta`: `WATERMARK_TEXT` for the public, unless the
/// image's album has it off or it is a generated placeholder; the admin sees images clean.
pub async fn public_mark<P: Platform>(app: &App<P>, req: &Request, meta: &ImageMeta) -> Option<Mark> {
    let mark = app.config.watermark.as_ref().filter(|_| !meta.album_unmarked && meta.album.as_deref() != Some(PLACEHOLDER_ALBUM))?;
    (!crate::access::guard::is_admin(app, req).await).then(|| mark.clone())
}

/// The quality of a marked copy of an original.
const ORIGINAL_QUALITY: u8 = 90;

/// `WATERMARK_ORIGINALS`: the public's view of an original, as a marked copy at full size (made
/// once, like any variant; the stored file stays as it was). `None` when this request gets the
/// original itself: the setting is off, the reader is the admin, the album has no mark, or the
/// image is an animation (served as it is).
pub async fn marked_original<P: Platform>(app: &App<P>, req: &Request, meta: &ImageMeta) -> Option<Result<Response, ApiError>> {
    let markable = matches!(meta.format, Format::Jpeg | Format::Png | Format::Webp) && !meta.animated;
    if !(app.config.watermark_originals && markable) {
        return None;
    }
    public_mark(app, req, meta).await?;
    Some(serve_as(app, req, meta, Options { quality: ORIGINAL_QUALITY, ..Options::default() }, &[], true).await)
}

pub async fn serve<P: Platform>(app: &App<P>, req: &Request, meta: &ImageMeta, opts: Options, pairs: &[(String, String)]) -> Result<Response, ApiError> {
    serve_as(app, req, meta, opts, pairs, false).await
}

/// [`serve`]; `marked_copy` is the marked copy of an original, which needs no permission to make.
async fn serve_as<P: Platform>(
    app: &App<P>,
    req: &Request,
    meta: &ImageMeta,
    mut opts: Options,
    pairs: &[(String, String)],
    marked_copy: bool,
) -> Result<Response, ApiError> {
    opts.watermark = public_mark(app, req, meta).await;
    // The admin's clean copy of a marked image never meets the edge cache the public reads.
    let clean_copy = opts.watermark.is_none() && app.config.watermark.is_some() && !meta.album_unmarked;
    if meta.animated {
        return Ok(original(meta, "animated and AVIF images are served as they are"));
    }
    let accept = req.header("accept").unwrap_or("");
    let may_have_alpha = !matches!(meta.format, Format::Jpeg);
    let format = negotiate(opts.format, accept, may_have_alpha, same_format(meta.format));
    let engine = engine::choose(app.config.transform_engine, app.images.bound(), meta.format, format)?;
    if meta.format == Format::Avif && engine == Which::Wasm {
        return Ok(original(meta, "animated and AVIF images are served as they are"));
    }
    let key = format!("{}{}", variant_prefix(&meta.id), opts.key(format));
    let etag = format!("\"{}-{}\"", &meta.sha256[..16.min(meta.sha256.len())], &sha256_hex(key.as_bytes())[..16]);
    let mut resp =
        Response::new(200, format.mime(), Vec::new()).with_header("etag", etag.clone()).with_header("cache-control", crate::library::cache_control(meta));
    if opts.format == Some(OutFormat::Auto) {
        resp.headers.set("vary", "Accept");
    }
    if crate::http::conditional::not_modified(req, &etag, meta.uploaded) {
        resp.status = 304;
        resp.headers.remove("content-type");
        return Ok(resp);
    }
    // Only what the public may see (not private: its signed links would be keys) goes into (or comes out of) the edge cache, and only after
    // the record said so: a blocked or deleted image's variants stop at once.
    let edge_key = (meta.status == Status::Active && !meta.is_private() && !clean_copy && req.method == Method::Get)
        .then(|| edge_cache_key(&req.url, &meta.id, opts.format, accept, opts.watermark.as_ref()));
    if let Some(k) = &edge_key {
        if let Some(hit) = app.edge.get(k).await {
            return Ok(hit.with_header("x-variant-cache", "edge"));
        }
    }
    if let Some(blob) = app.blobs.get(&key, None).await? {
        // Variants are small; held as bytes so that one read serves and fills the edge cache.
        let made_by = blob.custom.iter().find(|(k, _)| k == "engine").map_or("wasm", |(_, v)| v.as_str()).to_string();
        let bytes = blob.body.read_all().await.map_err(|e| crate::platform::StoreError(format!("R2 variant {key}: {e}")))?;
        resp.headers.set("x-variant-cache", "hit");
        resp.headers.set("x-transform-engine", made_by);
        return Ok(cached(app, &meta.id, edge_key, finish(req, resp, bytes)).await);
    }
    if !marked_copy {
        guard(app, req, &meta.id, &opts, pairs).await?;
    }
    crate::access::limits::check(app, req, Limit::Variants).await?;
    let admin = crate::access::guard::is_admin(app, req).await;
    // The cap bounds what is kept in R2, never what is served: past it a new size is made and
    // edge-cached but not stored, so strangers who fill it take no size away from anyone. The
    // thumbnail every upload answer links to, and the admin's, are kept whatever the count.
    let own_size = canonical_query(pairs) == THUMB_QUERY;
    let cap = if admin || own_size { u64::MAX } else { app.config.max_variants_per_image as u64 };
    let keep = app.pool.reserve_variant(&meta.id, &key, cap).await?;
    let made = crate::library::render::render(app, Source::Stored(meta), &opts, format, engine).await;
    let (out, engine) = match made {
        Ok(out) => out,
        Err(e) => {
            if keep {
                app.pool.release_variant(&meta.id, &key).await?;
            }
            // (The marked copy of an original cannot point back to the original: it is the error.)
            return match e.code {
                "corrupt_image" | "unsupported_type" | SOURCE_TOO_LARGE if !marked_copy => Ok(original(meta, &e.message)),
                _ => Err(e),
            };
        }
    };
    resp.headers.set("x-variant-cache", if keep { "miss" } else { "not-stored" });
    resp.headers.set("x-transform-engine", engine.name());
    // A stored variant enters the edge cache when it is next read from R2: making it costs
    // no cache write and no bookkeeping call on top of the transform.
    let mut resp = if keep {
        app.blobs.put(&key, out.clone(), format.mime(), &[("id", &meta.id), ("engine", engine.name())]).await?;
        finish(req, resp, out)
    } else {
        cached(app, &meta.id, edge_key, finish(req, resp, out)).await
    };
    if let (true, Some(bytes)) = (admin, wasm_memory_bytes()) {
        // Wasm memory only grows, so this is the isolate's peak so far: for the operator's
        // benchmarks and memory checks, never for the public.
        resp.headers.set("x-wasm-memory", bytes.to_string());
    }
    Ok(resp)
}

/// Puts an answer into the edge cache and notes its key, so a delete can purge it.
async fn cached<P: Platform>(app: &App<P>, id: &str, edge_key: Option<String>, resp: Response) -> Response {
    if let Some(k) = edge_key {
        app.edge.put(&k, &resp).await;
        // Bookkeeping: a miss here only means a delete leaves an unreachable copy to expire.
        let _ = app.pool.remember_edge(id, &k).await;
    }
    resp
}

fn finish(req: &Request, mut resp: Response, body: Vec<u8>) -> Response {
    resp.headers.set("content-length", body.len().to_string());
    if req.method != Method::Head {
        resp.body = body.into();
    }
    resp
}

fn wasm_memory_bytes() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size(0) as u64 * 65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_keys_split_auto_by_accept_only() {
        let url = url::Url::parse("https://h/file/abc.jpg?w=100&f=auto").unwrap();
        let webp = edge_cache_key(&url, "abc", Some(OutFormat::Auto), "image/avif,image/webp,*/*", None);
        let other = edge_cache_key(&url, "abc", Some(OutFormat::Auto), "image/*", None);
        assert_ne!(webp, other);
        let fixed = url::Url::parse("https://h/file/abc.jpg?w=100").unwrap();
        assert_eq!(edge_cache_key(&fixed, "abc", None, "image/webp", None), edge_cache_key(&fixed, "abc", None, "image/*", None));
        let placeholder = url::Url::parse("https://h/800x600/sloth").unwrap();
        assert_ne!(
            edge_cache_key(&placeholder, "old", None, "", None),
            edge_cache_key(&placeholder, "new", None, "", None),
            "a remade placeholder is not served from the old entry"
        );
    }
}
