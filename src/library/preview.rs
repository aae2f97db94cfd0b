//! The tiny blurred preview a page shows while the image loads (`preview` in the metadata
//! answer): a 16 px wide WebP of a few hundred bytes, as a `data:` URI. Made the first time it
//! is asked for (by the engine that makes variants) and kept in R2 beside them, so each later
//! answer costs one small read; any failure leaves it out of the answer, never fails it.

use crate::app::{App, Platform};
use crate::index::record::ImageMeta;
use crate::library::render::{render, Source};
use crate::library::variants::variant_prefix;
use crate::platform::{Blobs, Images};
use crate::transform::engine;
use crate::transform::options::{Options, OutFormat};
use base64::Engine;

/// Width of the preview: enough for the shape and the colours, nothing more.
const WIDTH: u32 = 16;

pub async fn preview<P: Platform>(app: &App<P>, meta: &ImageMeta) -> Option<String> {
    let key = format!("{}preview.webp", variant_prefix(&meta.id));
    let stored = match app.blobs.get(&key, None).await.ok()? {
        Some(blob) => blob.body.read_all().await.ok(),
        None => None,
    };
    let bytes = match stored {
        Some(bytes) => bytes,
        None => {
            let opts = Options { width: Some(WIDTH), quality: 50, blur: Some(1.0), ..Options::default() };
            let which = engine::choose(app.config.transform_engine, app.images.bound(), meta.format, OutFormat::Webp).ok()?;
            let (bytes, _) = render(app, Source::Stored(meta), &opts, OutFormat::Webp, which).await.ok()?;
            let _ = app.blobs.put(&key, bytes.clone(), "image/webp", &[("id", &meta.id)]).await;
            bytes
        }
    };
    Some(format!("data:image/webp;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}
