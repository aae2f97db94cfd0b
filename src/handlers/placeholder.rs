//! `GET /<W>x<H>/<slug>[.<ext>]` and `/<W>/<H>/<slug>`: a placeholder picture of exactly that
//! size. Without an image model configured it is drawn here (`X-Placeholder-Source: local`):
//! a gradient from the slug with the size and the words on it, so the feature works the first
//! time someone runs imgbed. Transform effects (`blur`, `sharpen`, `gray`, `q`, `dpr`) and the
//! output format (extension, `format=`, or `Accept`) apply as for stored images.

use crate::app::{App, Platform};
use crate::conditional::not_modified;
use crate::error::ApiError;
use crate::http::{Method, Request, Response};
use crate::ids::sha256_hex;
use crate::placeholder::{draw, Spec};
use crate::transform::options::{negotiate, OutFormat, Options};
use crate::transform::{check_drawn, finish_drawn};

pub async fn serve<P: Platform>(_app: &App<P>, req: &Request, spec: Spec) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| matches!(k.as_str(), "w" | "width" | "h" | "height" | "fit" | "gravity" | "sig")) {
        return Err(ApiError::bad_request("bad_parameter", format!("{k} does not apply to placeholders: the size is in the path (/800x600/words)")));
    }
    let opts = Options::parse(&pairs, &[])?.unwrap_or_default();
    let requested = spec.format.or(opts.format).unwrap_or(OutFormat::Auto);
    let format = negotiate(Some(requested), req.header("accept").unwrap_or(""), false, None);
    if matches!(format, OutFormat::Avif | OutFormat::Gif) {
        return Err(ApiError::bad_request("bad_parameter", "placeholders come as jpeg, png or webp"));
    }
    let scale = |v: u32| ((v as f32 * opts.dpr).round() as u32).max(1);
    let size = (scale(spec.width), scale(spec.height));
    let canonical = format!("{}x{}/{}?{}&{}", spec.width, spec.height, spec.slug, opts.key(format), format.name());
    let etag = format!("\"ph-{}\"", &sha256_hex(canonical.as_bytes())[..24]);
    let mut resp = Response::new(200, format.mime(), Vec::new())
        .with_header("etag", etag.clone())
        .with_header("cache-control", "public, max-age=86400")
        .with_header("x-placeholder-source", "local");
    if requested == OutFormat::Auto {
        resp.headers.set("vary", "Accept");
    }
    if not_modified(req, &etag, 0) {
        resp.status = 304;
        resp.headers.remove("content-type");
        return Ok(resp);
    }
    // Memory is checked before a pixel is drawn: a 4096² WebP would not fit the budget.
    check_drawn(size, &opts, format)?;
    let body = finish_drawn(image::DynamicImage::ImageRgb8(draw(&spec, size)), &opts, format)?;
    resp.headers.set("content-length", body.len().to_string());
    if req.method != Method::Head {
        resp.body = body;
    }
    Ok(resp)
}
