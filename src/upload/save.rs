//! Storing a checked upload: a new image, the uploader's own repeat, or an image of their own
//! over bytes someone else stored (see [`save`]).

use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::{delete_token, new_id, sha256_hex};
use crate::config::Storage;
use crate::index::record::{Channel, ImageMeta};
use crate::library::{commit, load, telegram};
use crate::platform::upstream::Http;
use crate::platform::{Blobs, Pool};
use crate::upload::ingest::{Prepared, UploadOptions};

/// The outcome of storing one upload.
#[derive(Debug, Clone)]
pub struct Stored {
    pub meta: ImageMeta,
    /// Known for new uploads; for repeats only when the uploader owns the image (same token,
    /// or the admin) and `SECRET_KEY` lets it be derived again.
    pub delete_token: Option<String>,
    /// The same bytes were already stored; `meta` is the existing image.
    pub deduped: bool,
}

/// Stores a prepared upload, or finds the image that already has these bytes. A repeat
/// upload hands back the delete link only to the image's owner: anyone can download a public
/// image and upload it again, and must not gain the power to delete it by doing so.
pub async fn save<P: Platform>(app: &App<P>, file: Prepared, options: &UploadOptions, uploader: &Uploader) -> Result<Stored, ApiError> {
    let key = format!("i/{}", file.sha256);
    let secret = app.config.secret_key.as_deref();
    let storage = storage_for(app, options)?;
    // A repeat by the image's owner (or the admin) is that image. Anyone else gets an image of
    // their own over the same bytes: their name, status and delete link, nothing of the other's.
    let mut shared = None;
    if let Some(meta) = same_bytes(app, &key, &file.sha256, uploader).await? {
        if uploader.owns(meta.owner.as_deref()) {
            let delete_token = secret.map(|s| delete_token(Some(s), &meta.id));
            let meta = keep_what_was_asked(app, meta, options).await?;
            return Ok(Stored { meta, delete_token, deduped: true });
        }
        shared = Some(meta);
    }
    let id = new_id();
    let token = delete_token(secret, &id);
    let s = &file.sniffed;
    // The classifier and the captioner are asked at once: an upload waits for the slower.
    let review = crate::upload::moderation::review(app, &file, uploader);
    let ((status, moderation), caption) = futures_util::future::join(review, crate::upload::caption::caption(app, &file)).await;
    let (alt, suggested_tags) = caption.map_or((None, Vec::new()), |(alt, tags)| (Some(alt), tags));
    let mut meta = ImageMeta {
        id: id.clone(),
        name: file.name,
        format: s.format,
        bytes: file.bytes.len() as u64,
        width: s.width,
        height: s.height,
        orientation: s.orientation(),
        sha256: file.sha256,
        md5: file.md5,
        sha1: file.sha1,
        uploaded: app.now_ms,
        status,
        album: options.album.clone(),
        tags: options.tags.clone(),
        channel: Channel::R2,
        location: key.clone(),
        delete_hash: sha256_hex(token.as_bytes()),
        animated: s.animated,
        owner: uploader.owner(),
        moderation,
        telegram: None,
        private: false,
        album_private: false,
        album_unmarked: false,
        alt,
        suggested_tags,
    };
    let mime = s.format.mime();
    let bytes = file.bytes;
    if let Some(other) = shared {
        (meta.channel, meta.location, meta.telegram) = (other.channel, other.location, other.telegram);
        commit(app, &meta, None, false).await?;
        // A delete of the other image that ran just before this record was indexed took the
        // bytes: this upload still holds them.
        if meta.channel == Channel::R2 && app.blobs.head(&meta.location).await?.is_none() {
            app.blobs.put(&meta.location, bytes, mime, &[("id", &meta.id)]).await?;
        }
        return Ok(Stored { meta, delete_token: Some(token), deduped: false });
    }
    if storage != Storage::R2 {
        match telegram(app).store(&bytes, &meta.name, &id, app.http.now_ms() + app.config.telegram_deadline_s * 1000).await {
            Ok(copy) => meta.telegram = Some(copy),
            // With a copy in R2 anyway, or R2 as the fallback, Telegram's outage costs nothing.
            Err(e) if storage == Storage::Both || app.config.telegram_fallback_r2 => {
                crate::base::log::error(&format!("image {id}: stored in R2 only: Telegram failed ({})", e.code));
            }
            Err(e) => return Err(e),
        }
    }
    let in_r2 = storage != Storage::Telegram || meta.telegram.is_none();
    if !in_r2 {
        meta.channel = Channel::Telegram;
    }
    commit(app, &meta, in_r2.then_some((bytes, mime)), true).await?;
    Ok(Stored { meta, delete_token: Some(token), deduped: false })
}

/// The owner's repeat upload with an album or tags: the image moves to that album and gains
/// those tags (it keeps the ones it has), as the uploader asked.
async fn keep_what_was_asked<P: Platform>(app: &App<P>, meta: ImageMeta, options: &UploadOptions) -> Result<ImageMeta, ApiError> {
    let mut after = meta.clone();
    if options.album.is_some() {
        after.album.clone_from(&options.album);
    }
    // Every tag rule (count, spelling) is parse_tags's, over the union.
    after.tags = crate::index::pools::parse_tags(meta.tags.iter().chain(&options.tags).map(String::as_str))
        .map_err(|e| ApiError::bad_request(e.code, format!("this image is already stored with {} tags: {}", meta.tags.len(), e.message)))?;
    if after.album != meta.album || after.tags != meta.tags {
        crate::library::update(app, &meta, &after).await?;
    }
    Ok(after)
}

/// An image that already has these bytes: the uploader's own when there is one, else whichever
/// image the R2 object names (or, for bytes only in Telegram, the oldest).
async fn same_bytes<P: Platform>(app: &App<P>, key: &str, sha256: &str, uploader: &Uploader) -> Result<Option<ImageMeta>, ApiError> {
    let named = match app.blobs.head(key).await? {
        Some(custom) => custom.into_iter().find(|(k, _)| k == "id").map(|(_, id)| id),
        // Telegram-only images have no R2 object to ask.
        None if app.config.telegram_configured() => match app.pool.find(sha256, None, None).await? {
            None => return Ok(None),
            some => some,
        },
        None => return Ok(None),
    };
    let named = match named {
        Some(id) => load(app, &id).await?,
        None => None,
    };
    if let (Some(owner), false) = (uploader.owner(), named.as_ref().is_some_and(|m| uploader.owns(m.owner.as_deref()))) {
        if let Some(id) = app.pool.find(sha256, None, Some(&owner)).await? {
            if let Some(mine) = load(app, &id).await? {
                return Ok(Some(mine));
            }
        }
    }
    Ok(named)
}

/// Where this upload's bytes go: `STORAGE_CHANNEL`, or the `channel=` it names.
fn storage_for<P: Platform>(app: &App<P>, options: &UploadOptions) -> Result<Storage, ApiError> {
    match options.channel.as_deref() {
        None => Ok(app.config.storage),
        Some("r2") => Ok(Storage::R2),
        Some("telegram") if app.config.telegram_configured() => Ok(Storage::Telegram),
        Some(c) => Err(ApiError::bad_request("bad_parameter", format!("channel {c:?} is not set up here: use one of {}", app.config.channels().join(", ")))),
    }
}
