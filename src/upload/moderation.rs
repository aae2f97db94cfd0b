//! Review of new uploads (`REVIEW_MODE`): `off` publishes them, `manual` holds them for the
//! admin, `auto` asks an NSFW classifier on Replicate and publishes only what it clears. The
//! classifier sees a small JPEG preview sent inline (a `data:` URI), so a pending image never
//! has to be reachable from outside; whatever goes wrong leaves the image pending, never public.

use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::config::ReviewMode;
use crate::index::record::{Moderation, Status};
use crate::platform::Images;
use crate::services::replicate::Replicate;
use crate::transform::options::{Options, OutFormat};
use crate::upload::ingest::Prepared;
use base64::Engine;

/// Longest side of the preview the classifier sees; such models work at 224-384 px.
const PREVIEW_SIDE: u32 = 384;

/// The status a new upload starts in, and the classifier's verdict in `auto` mode. The
/// admin's own uploads are trusted.
pub async fn review<P: Platform>(app: &App<P>, file: &Prepared, uploader: &Uploader) -> (Status, Option<Moderation>) {
    let c = &app.config;
    match c.review_mode {
        ReviewMode::Off => (Status::Active, None),
        _ if *uploader == Uploader::Admin => (Status::Active, None),
        ReviewMode::Manual => (Status::Pending, None),
        ReviewMode::Auto => {
            let model = c.moderation_model.clone();
            match classify(app, file).await {
                Some((label, score)) => {
                    let status = match score >= c.moderation_threshold {
                        false => Status::Active,
                        true if c.moderation_blocks => Status::Blocked,
                        true => Status::Pending,
                    };
                    (status, Some(Moderation { label, score, model }))
                }
                None => (Status::Pending, Some(Moderation { label: "error".into(), score: 0.0, model })),
            }
        }
    }
}

/// The classifier's verdict on what browsers show: the image, and for an animation up to
/// [`FRAMES`] of its frames spread over the whole of it (asked at once); the worst verdict wins,
/// and no verdict at all (any preview or answer missing) is `None`.
async fn classify<P: Platform>(app: &App<P>, file: &Prepared) -> Option<(String, f64)> {
    let c = &app.config;
    let Some(token) = c.replicate_api_token.as_deref() else {
        crate::base::log::error("REVIEW_MODE=auto needs REPLICATE_API_TOKEN: uploads stay pending");
        return None;
    };
    let mut previews = vec![preview(app, file).await?];
    if file.sniffed.animated {
        let picked = crate::transform::frames::spread(file.sniffed.frames, FRAMES);
        match crate::transform::frames::previews(&file.bytes, &file.sniffed, &picked, PREVIEW_SIDE) {
            Ok(frames) => previews.extend(frames),
            Err(e) => {
                crate::base::log::error(&format!("moderation: the frames could not be read: {}", e.message));
                return None;
            }
        }
    }
    let client = &Replicate { http: &app.http, base: &c.replicate_api_base, token };
    let asked = previews.iter().map(|p| {
        let uri = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(p));
        async move { client.classify(&c.moderation_model, &uri, c.moderation_deadline_s * 1000).await }
    });
    let mut worst: Option<(String, f64)> = None;
    for answer in futures_util::future::join_all(asked).await {
        match answer {
            Ok(v) if worst.as_ref().is_none_or(|w| v.1 > w.1) => worst = Some(v),
            Ok(_) => {}
            Err(e) => {
                crate::base::log::error(&format!("moderation: {}: {}", e.code, e.message));
                return None;
            }
        }
    }
    worst
}

/// Frames of an animation the classifier sees besides its default image.
const FRAMES: u32 = 4;

/// The small JPEG of the image as browsers show it when still (also what the captioner sees).
pub(super) async fn preview<P: Platform>(app: &App<P>, file: &Prepared) -> Option<Vec<u8>> {
    let c = &app.config;
    let opts = Options { width: Some(PREVIEW_SIDE), height: Some(PREVIEW_SIDE), quality: 80, ..Options::default() };
    let source = crate::library::render::Source::Bytes { bytes: &file.bytes, sniffed: &file.sniffed };
    let made = async {
        let engine = crate::transform::engine::choose(c.transform_engine, app.images.bound(), file.sniffed.format, OutFormat::Jpeg)?;
        crate::library::render::render(app, source, &opts, OutFormat::Jpeg, engine).await
    };
    match made.await {
        Ok((p, _)) => Some(p),
        Err(e) => {
            crate::base::log::error(&format!("no preview for the classifier or captioner: {}", e.message));
            None
        }
    }
}
