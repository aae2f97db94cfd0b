//! Making a picture with the engine [`crate::transform::engine::choose`] picked: Cloudflare
//! Images outside the isolate, or the wasm pipeline inside it. Variants, placeholder sizes and
//! moderation previews all come through here.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::config::Engine;
use crate::http::Stream;
use crate::index::record::ImageMeta;
use crate::platform::{Images, ImagesError};
use crate::sniff::{sniff, Sniffed};
use crate::transform::engine::{self, Which};
use crate::transform::options::{Options, OutFormat};
use crate::transform::run;

/// Largest `WATERMARK_IMAGE` read, each side: a logo, not a photo.
const MAX_LOGO_SIDE: u32 = 2048;

/// The `WATERMARK_IMAGE` logo's pixels. A logo that cannot be read makes no variant at all
/// (rather than one without its mark, kept for a year): the error says what to fix.
async fn logo<P: Platform>(app: &App<P>, id: &str) -> Result<image::RgbaImage, ApiError> {
    let missing = |why: &str| {
        crate::base::log::error(&format!("WATERMARK_IMAGE {id}: {why}"));
        ApiError::new(500, "bad_config", "WATERMARK_IMAGE names an image that cannot be used as a watermark: upload a PNG logo and set its id")
    };
    let meta = crate::library::load(app, id).await?.ok_or_else(|| missing("no such image"))?;
    if meta.width > MAX_LOGO_SIDE || meta.height > MAX_LOGO_SIDE || meta.animated {
        return Err(missing("larger than 2048 px a side, or animated"));
    }
    let bytes = crate::library::read_bytes(app, &meta).await?;
    Ok(image::load_from_memory(&bytes).map_err(|e| missing(&e.to_string()))?.to_rgba8())
}

/// What a picture is made from.
pub enum Source<'a> {
    /// A stored image: Images reads it as a stream, straight from storage.
    Stored(&'a ImageMeta),
    /// Bytes already in memory (an upload being checked).
    Bytes { bytes: &'a [u8], sniffed: &'a Sniffed },
}

/// Makes `format` from `source` with `engine`. With `TRANSFORM_ENGINE=auto`, what Images cannot
/// make (an outage, the month's allowance used up, a source it cannot read) is made in wasm.
pub async fn render<P: Platform>(app: &App<P>, source: Source<'_>, opts: &Options, format: OutFormat, engine: Which) -> Result<(Vec<u8>, Which), ApiError> {
    let with_logo;
    let opts = match opts.watermark.as_ref().and_then(|m| m.image.as_deref()) {
        Some(id) if opts.watermark_logo.is_none() => {
            with_logo = Options { watermark_logo: Some(std::rc::Rc::new(logo(app, id).await?)), ..opts.clone() };
            &with_logo
        }
        _ => opts,
    };
    if engine == Which::Images {
        // Bytes in memory were hashed as they came in; an R2 read is checked by R2 itself.
        let (input, size, expect, id) = match &source {
            Source::Stored(meta) => {
                let (input, outside) = crate::library::read_from(app, meta, None).await?;
                (input, (meta.width, meta.height), outside.then_some(meta.sha256.as_str()), meta.id.as_str())
            }
            Source::Bytes { bytes, sniffed } => {
                (Stream::from_bytes(bytes.to_vec()).map_err(ApiError::internal)?, (sniffed.width, sniffed.height), None, "(upload)")
            }
        };
        // An answer that is not a picture of the asked-for format (the local binding answers an
        // unreadable source with zero bytes) is a failure, never a variant kept for a year.
        let made = app.images.transform(input, expect, &engine::spec(size, opts, format)).await.and_then(|out| match sniff(&out) {
            Ok(s) if s.format.mime() == format.mime() => Ok(out),
            _ => Err(ImagesError::Failed(format!("the answer ({} bytes) is not a {} image", out.len(), format.mime()))),
        });
        match made {
            Ok(out) => return Ok((out, Which::Images)),
            Err(ImagesError::Garbled) => {
                crate::base::log::error(&format!("image {id}: the stored bytes do not match the record's SHA-256"));
                return Err(ApiError::new(502, "storage_garbled", "storage answered with something unreadable: try again in a moment").with_retry_after(5));
            }
            Err(ImagesError::Failed(why)) => {
                crate::base::log::error(&format!("image {id}: Cloudflare Images made nothing: {why}"));
                if app.config.transform_engine != Engine::Auto || format == OutFormat::Avif {
                    return Err(
                        ApiError::new(503, "transform_unavailable", "Cloudflare Images could not make this picture: try again later").with_retry_after(60)
                    );
                }
            }
        }
    }
    let out = match source {
        Source::Stored(meta) => {
            let bytes = crate::library::read_verified(app, meta).await?;
            run(&bytes, &sniff(&bytes)?, opts, format)?
        }
        Source::Bytes { bytes, sniffed, .. } => run(bytes, sniffed, opts, format)?,
    };
    Ok((out, Which::Wasm))
}
