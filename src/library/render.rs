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
