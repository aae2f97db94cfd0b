//! Images as stored things: save with dedupe, load, hide from the public, remove.
//!
//! Bytes live in R2 under `i/<sha256>` (content-addressed, so identical uploads are stored once),
//! with the owning id as custom metadata; the record lives in KV under `img:<id>`. A record is
//! written last, so a reader never finds an image whose bytes are not there yet. Every image is
//! in the catalog and every active one in the random pools (both in the index store); this
//! module is the one place that writes records, so bytes, record, catalog and pools change
//! together on every path: uploads on every API, PATCH, deletes, review, placeholders.

pub mod edit;
pub mod preview;
pub mod render;
pub mod repair;
pub mod variants;
pub mod view;

use crate::access::private::Link;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::sha256_hex;
use crate::http::{Request, Stream};
use crate::index::albums::Flags;
use crate::index::catalog::Indexed;
use crate::index::pools::{pools_of, PoolEntry};
use crate::index::record::{Channel, ImageMeta, Status};
use crate::library::variants::variant_prefix;
use crate::platform::upstream::Http;
use crate::platform::{Blobs, EdgeCache, Kv, Pool};
use crate::services::telegram::Telegram;

pub async fn load<P: Platform>(app: &App<P>, id: &str) -> Result<Option<ImageMeta>, ApiError> {
    let Some(json) = app.kv.get(&ImageMeta::kv_key(id)).await? else {
        return Ok(None);
    };
    serde_json::from_str(&json).map(Some).map_err(|e| {
        crate::base::log::error(&format!("the record of image {id} is unreadable: {e}"));
        garbled()
    })
}

/// Storage answered, with something that cannot be what was stored: the details go to the log.
fn garbled() -> ApiError {
    ApiError::new(502, "storage_garbled", "storage answered with something unreadable: try again in a moment").with_retry_after(5)
}

/// Loads an image the way the public may see it: 404 when unknown or awaiting review (unless
/// the admin asks), 451 when blocked.
pub async fn load_visible<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<ImageMeta, ApiError> {
    let not_found = || ApiError::not_found(format!("no image with id {id:?}"));
    if !crate::base::ids::is_valid_id(id) {
        return Err(not_found());
    }
    let meta = load(app, id).await?.ok_or_else(not_found)?;
    // A private image is unknown to everyone without a signed link (or the admin's key).
    let link = crate::access::private::check_link(&app.config, req, id, app.now_ms);
    let hidden = meta.is_private() && link != Link::Valid;
    if meta.status == Status::Active && !hidden {
        return Ok(meta);
    }
    if crate::access::guard::is_admin(app, req).await {
        return Ok(meta);
    }
    match (meta.status, link) {
        (Status::Pending, _) => Err(not_found()),
        (Status::Blocked, _) => Err(ApiError::new(451, "blocked", "this image has been blocked by the administrator")),
        (_, Link::None) => Err(not_found()),
        (_, link) => Err(crate::access::private::refusal(link)),
    }
}

/// How long an image's answers may be kept: a year by anyone when the public may see it; only
/// the admin (or a signed link) sees a pending, blocked or private one, and no shared cache may
/// keep that.
pub fn cache_control(meta: &ImageMeta) -> &'static str {
    match meta.status {
        Status::Active if !meta.is_private() => "public, max-age=31536000, immutable",
        _ => "private, no-store",
    }
}

/// Writes a new image: bytes into R2 (when given), then catalog and pools, then the record, in
/// that order so that nothing is visible before its bytes are there. If a step fails, the
/// earlier ones are taken back (the Telegram copy only when `own_copy`: it was made for this
/// image): without its record the bytes would be unreachable.
pub async fn commit<P: Platform>(app: &App<P>, meta: &ImageMeta, r2: Option<(Vec<u8>, &str)>, own_copy: bool) -> Result<(), ApiError> {
    let in_r2 = r2.is_some();
    let stored = async {
        if let Some((bytes, mime)) = r2 {
            app.blobs.put(&meta.location, bytes, mime, &[("id", &meta.id)]).await?;
        }
        let flags = app.pool.index(&[indexed(app, meta)]).await?;
        app.kv.put(&ImageMeta::kv_key(&meta.id), &record(meta, &flags)?).await
    };
    if let Err(e) = stored.await {
        let _ = app.pool.unindex(&meta.id).await;
        if in_r2 {
            let _ = app.blobs.delete(&meta.location).await;
        }
        if let Some(copy) = meta.telegram.as_ref().filter(|_| own_copy) {
            telegram(app).delete(copy).await;
        }
        return Err(e.into());
    }
    Ok(())
}

/// Puts an image from a backup back, with its id, status, album, tags, dates and delete hash:
/// the bytes must match the record's SHA-256. Restored images live in R2 (a Telegram copy's
/// file ids belong to the other deployment's bots). `Ok(false)` when the id is already here
/// with these bytes, so a restore can be run again after an interruption.
pub async fn import<P: Platform>(app: &App<P>, mut meta: ImageMeta, bytes: Vec<u8>) -> Result<bool, ApiError> {
    if sha256_hex(&bytes) != meta.sha256 || bytes.len() as u64 != meta.bytes {
        return Err(ApiError::bad_request("bytes_mismatch", format!("the bytes of {} do not match its record (size or SHA-256)", meta.id)));
    }
    if let Some(here) = load(app, &meta.id).await? {
        return match here.sha256 == meta.sha256 {
            true => Ok(false),
            false => Err(ApiError::new(409, "id_taken", format!("an image with id {} and other bytes is already here", meta.id))),
        };
    }
    meta.channel = Channel::R2;
    meta.telegram = None;
    meta.location = format!("i/{}", meta.sha256);
    if app.blobs.head(&meta.location).await?.is_some() {
        return Err(ApiError::new(409, "bytes_taken", format!("the bytes of {} are already here under another id", meta.id)));
    }
    let mime = meta.format.mime();
    commit(app, &meta, Some((bytes, mime)), true).await?;
    Ok(true)
}

/// The Telegram client for this instance's bots and chat.
pub fn telegram<P: Platform>(app: &App<P>) -> Telegram<'_, P::Http> {
    let c = &app.config;
    Telegram { http: &app.http, base: &c.telegram_api_base, bots: &c.telegram_bot_tokens, chat_id: c.telegram_chat_id.as_deref().unwrap_or("") }
}

/// An image's bytes (or `len` bytes from `offset`), streamed: from R2, or from Telegram when
/// the image lives there or its R2 copy is missing.
pub async fn read<P: Platform>(app: &App<P>, meta: &ImageMeta, range: Option<(u64, u64)>) -> Result<Stream, ApiError> {
    Ok(read_from(app, meta, range).await?.0)
}

/// [`read`], saying whether the bytes came from outside Cloudflare: R2 checks its objects'
/// integrity itself, while a Telegram read can be the wrong file or cut short, so only those
/// are worth hashing on their way into a transform.
pub async fn read_from<P: Platform>(app: &App<P>, meta: &ImageMeta, range: Option<(u64, u64)>) -> Result<(Stream, bool), ApiError> {
    if meta.channel == Channel::R2 {
        if let Some(blob) = app.blobs.get(&meta.location, range).await? {
            return Ok((blob.body, false));
        }
    }
    match &meta.telegram {
        Some(copy) => Ok((telegram(app).read(copy, range, app.http.now_ms() + app.config.telegram_deadline_s * 1000).await?, true)),
        None => Err(ApiError::internal(format!("the bytes of image {} are missing from storage", meta.id))),
    }
}

/// An image's whole bytes in memory, for the few uses that must look at them.
pub async fn read_bytes<P: Platform>(app: &App<P>, meta: &ImageMeta) -> Result<Vec<u8>, ApiError> {
    read(app, meta, None).await?.read_all().await.map_err(|e| {
        crate::base::log::error(&format!("image {}: reading its bytes failed: {e}", meta.id));
        ApiError::new(503, "storage_unavailable", "storage is unavailable right now: try again in a moment").with_retry_after(5)
    })
}

/// An image's whole bytes, checked against the SHA-256 in its record: what is decoded must be
/// what was uploaded (a garbled read would otherwise become a variant cached for a year).
pub async fn read_verified<P: Platform>(app: &App<P>, meta: &ImageMeta) -> Result<Vec<u8>, ApiError> {
    let bytes = read_bytes(app, meta).await?;
    if crate::base::digest::sha256_hex(&bytes).await? != meta.sha256 {
        crate::base::log::error(&format!("image {}: the stored bytes do not match the record's SHA-256", meta.id));
        return Err(garbled());
    }
    Ok(bytes)
}

/// `POST /api/admin/images/<id>/move`: copies the bytes to `to`, switches the record, then
/// removes the old copy. Returns the new record and how many Telegram messages stayed behind.
pub async fn move_to<P: Platform>(app: &App<P>, meta: &ImageMeta, to: Channel) -> Result<(ImageMeta, u32), ApiError> {
    if meta.channel == to && (to == Channel::R2 || meta.telegram.is_some()) {
        return Ok((meta.clone(), 0));
    }
    let bytes = read_bytes(app, meta).await?;
    let mut after = meta.clone();
    let mut left = 0;
    match to {
        Channel::Telegram => {
            if !app.config.telegram_configured() {
                return Err(ApiError::bad_request("bad_parameter", "the Telegram channel is not set up: set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID"));
            }
            let copy = match &meta.telegram {
                Some(copy) => copy.clone(),
                None => telegram(app).store(&bytes, &meta.name, &meta.id, app.http.now_ms() + app.config.telegram_deadline_s * 1000).await?,
            };
            after.channel = Channel::Telegram;
            after.telegram = Some(copy);
            update(app, meta, &after).await?;
            if !bytes_shared(app, meta).await? {
                app.blobs.delete(&meta.location).await?;
            }
        }
        Channel::R2 => {
            app.blobs.put(&meta.location, bytes, meta.format.mime(), &[("id", &meta.id)]).await?;
            after.channel = Channel::R2;
            after.telegram = None;
            update(app, meta, &after).await?;
            if let Some(copy) = &meta.telegram {
                if !bytes_shared(app, meta).await? {
                    left = telegram(app).delete(copy).await;
                }
            }
        }
    }
    Ok((after, left))
}

/// Whether another image still uses this image's bytes: two uploads of the same bytes that
/// raced past deduplication share one object. The index store (strongly consistent) is the
/// reference count; the R2 object's own `id` names only whichever upload wrote it last.
async fn bytes_shared<P: Platform>(app: &App<P>, meta: &ImageMeta) -> Result<bool, ApiError> {
    Ok(app.pool.find(&meta.sha256, Some(&meta.id), None).await?.is_some())
}

/// Album of generated placeholders; they stay out of `/random` unless `PLACEHOLDERS_IN_RANDOM`.
pub const PLACEHOLDER_ALBUM: &str = "placeholders";

/// Whether an image belongs in the random pools: active, not private, and not a placeholder
/// unless asked. (Its album's privacy is the index store's to apply: the record at hand may
/// predate an album change.)
fn in_pools<P: Platform>(app: &App<P>, meta: &ImageMeta) -> bool {
    meta.status == Status::Active && !meta.private && (meta.album.as_deref() != Some(PLACEHOLDER_ALBUM) || app.config.placeholders_in_random)
}

pub fn pool_entry(meta: &ImageMeta) -> PoolEntry {
    PoolEntry {
        id: meta.id.clone(),
        path: meta.file_path(),
        location: meta.location.clone(),
        mime: meta.format.mime().to_string(),
        width: meta.width,
        height: meta.height,
        orientation: meta.orientation,
    }
}

/// An image as the index store should hold it: in the pools only when [`in_pools`].
pub fn indexed<P: Platform>(app: &App<P>, meta: &ImageMeta) -> Indexed {
    let pools = in_pools(app, meta).then(|| (pool_entry(meta), pools_of(meta.orientation, meta.album.as_deref(), &meta.tags)));
    Indexed { meta: meta.clone(), pools }
}

/// Writes a changed record; catalog and pools follow in one step of the index store. If the
/// record cannot be written, the index goes back to `before`.
pub async fn update<P: Platform>(app: &App<P>, before: &ImageMeta, after: &ImageMeta) -> Result<(), ApiError> {
    update_many(app, &[(before, after)]).await?.pop().unwrap_or(Ok(()))
}

/// Changes several records: catalog and pools for all of them in one step of the index store,
/// then each record. An image whose record cannot be written gets its index entry back (all of
/// them in one more step), so listings never show a change that did not happen.
pub async fn update_many<P: Platform>(app: &App<P>, changes: &[(&ImageMeta, &ImageMeta)]) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let flags = app.pool.index(&changes.iter().map(|(_, after)| indexed(app, after)).collect::<Vec<_>>()).await?;
    let records = changes.iter().map(|(_, after)| record(after, &flags)).collect::<Result<Vec<_>, _>>()?;
    let mut results = Vec::with_capacity(changes.len());
    let mut undo = Vec::new();
    for ((before, after), record) in changes.iter().zip(&records) {
        match app.kv.put(&ImageMeta::kv_key(&after.id), record).await {
            Ok(()) => results.push(Ok(())),
            Err(e) => {
                undo.push(indexed(app, before));
                results.push(Err(e.into()));
            }
        }
    }
    if !undo.is_empty() {
        let _ = app.pool.index(&undo).await;
    }
    Ok(results)
}

/// A record as KV keeps it, with its album's flags (the index store's answer for the albums
/// just indexed).
fn record(meta: &ImageMeta, flags: &Flags) -> Result<String, crate::platform::StoreError> {
    let mut meta = meta.clone();
    flags.apply(&mut meta);
    serde_json::to_string(&meta).map_err(|e| crate::platform::StoreError(format!("record {}: {e}", meta.id)))
}

/// What a delete took away.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub id: String,
    pub record: bool,
    /// The original's bytes (false when another image shares them).
    pub bytes: bool,
    pub variants: u32,
    pub edge_cached: u32,
    /// Telegram messages that could not be deleted: those bytes remain in the chat (the
    /// image is no longer served either way).
    pub left_in_telegram: u32,
}

/// Deletes an image: out of catalog and pools and the record first (so it disappears at once),
/// then its bytes, its variants and this location's edge-cached copies.
pub async fn remove<P: Platform>(app: &App<P>, meta: &ImageMeta) -> Result<Removed, ApiError> {
    let edge_keys = app.pool.unindex(&meta.id).await?;
    if let Err(e) = app.kv.delete(&ImageMeta::kv_key(&meta.id)).await {
        let _ = app.pool.index(&[indexed(app, meta)]).await;
        return Err(e.into());
    }
    let mut removed = Removed { id: meta.id.clone(), record: true, ..Removed::default() };
    // The record is out of the index already: any image the store still knows with these
    // bytes is another one, and keeps them (in R2 and in Telegram).
    if !bytes_shared(app, meta).await? {
        if app.blobs.head(&meta.location).await?.is_some() {
            app.blobs.delete(&meta.location).await?;
            removed.bytes = true;
        }
        if let Some(copy) = &meta.telegram {
            removed.left_in_telegram = telegram(app).delete(copy).await;
            removed.bytes = removed.left_in_telegram == 0;
        }
    }
    // Variants are capped per image, so one listing finds them all.
    for v in app.blobs.list(&variant_prefix(&meta.id), None, 1000).await? {
        app.blobs.delete(&v.key).await?;
        removed.variants += 1;
    }
    for key in edge_keys {
        removed.edge_cached += u32::from(app.edge.delete(&key).await);
    }
    Ok(removed)
}
