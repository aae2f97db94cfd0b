//! Images as stored things: save with dedupe, load, hide from the public, remove.
//!
//! Bytes live in R2 under `i/<sha256>` (content-addressed, so identical uploads are stored once),
//! with the owning id as custom metadata; the record lives in KV under `img:<id>`. A record is
//! written last, so a reader never finds an image whose bytes are not there yet. Every image is
//! in the catalog and every active one in the random pools (both in the index store); this
//! module is the one place that writes records, so bytes, record, catalog and pools change
//! together on every path: uploads on every API, PATCH, deletes, review, placeholders.

use crate::app::{App, Platform};
use crate::catalog::Indexed;
use crate::random::{pools_of, PoolEntry};
use crate::storage::{Blobs, EdgeCache, Kv, Pool};
use crate::auth::Uploader;
use crate::handlers::transform::variant_prefix;
use crate::error::ApiError;
use crate::http::Request;
use crate::ids::{delete_token, new_id, sha256_hex};
use crate::ingest::{Prepared, UploadOptions};
use crate::meta::{Channel, ImageMeta, Status};

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

pub async fn load<P: Platform>(app: &App<P>, id: &str) -> Result<Option<ImageMeta>, ApiError> {
    let Some(json) = app.kv.get(&ImageMeta::kv_key(id)).await? else { return Ok(None) };
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("the record of image {id} is unreadable: {e}")))
}

/// Loads an image the way the public may see it: 404 when unknown or awaiting review (unless
/// the admin asks), 451 when blocked.
pub async fn load_visible<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<ImageMeta, ApiError> {
    let not_found = || ApiError::not_found(format!("no image with id {id:?}"));
    if !crate::ids::is_valid_id(id) {
        return Err(not_found());
    }
    let meta = load(app, id).await?.ok_or_else(not_found)?;
    match meta.status {
        Status::Active => Ok(meta),
        _ if crate::guard::is_admin(app, req).await => Ok(meta),
        Status::Blocked => Err(ApiError::new(451, "blocked", "this image has been blocked by the administrator")),
        Status::Pending => Err(not_found()),
    }
}

/// Stores a prepared upload, or finds the image that already has these bytes. A repeat
/// upload hands back the delete link only to the image's owner: anyone can download a public
/// image and upload it again, and must not gain the power to delete it by doing so.
pub async fn save<P: Platform>(app: &App<P>, file: Prepared, options: &UploadOptions, uploader: &Uploader) -> Result<Stored, ApiError> {
    let key = format!("i/{}", file.sha256);
    let secret = app.config.secret_key.as_deref();
    if let Some(custom) = app.blobs.head(&key).await? {
        if let Some((_, id)) = custom.iter().find(|(k, _)| k == "id") {
            if let Some(meta) = load(app, id).await? {
                let delete_token = secret.filter(|_| uploader.owns(meta.owner.as_deref())).map(|s| delete_token(Some(s), &meta.id));
                return Ok(Stored { meta, delete_token, deduped: true });
            }
        }
    }
    let id = new_id();
    let token = delete_token(secret, &id);
    let s = &file.sniffed;
    let (status, moderation) = crate::moderation::review(app, &file, uploader).await;
    let meta = ImageMeta {
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
    };
    let record = serde_json::to_string(&meta).map_err(|e| ApiError::internal(e.to_string()))?;
    app.blobs.put(&key, file.bytes, s.format.mime(), &[("id", &id)]).await?;
    let indexed = async {
        app.pool.index(&[indexed(app, &meta)]).await?;
        app.kv.put(&ImageMeta::kv_key(&id), &record).await
    };
    if let Err(e) = indexed.await {
        // Without its record the object is unreachable: take everything back rather than leak it.
        let _ = app.pool.unindex(&id).await;
        let _ = app.blobs.delete(&key).await;
        return Err(e.into());
    }
    Ok(Stored { meta, delete_token: Some(token), deduped: false })
}

/// Album of generated placeholders; they stay out of `/random` unless `PLACEHOLDERS_IN_RANDOM`.
pub const PLACEHOLDER_ALBUM: &str = "placeholders";

/// Whether an image belongs in the random pools: active, and not a placeholder unless asked.
fn in_pools<P: Platform>(app: &App<P>, meta: &ImageMeta) -> bool {
    meta.status == Status::Active && (meta.album.as_deref() != Some(PLACEHOLDER_ALBUM) || app.config.placeholders_in_random)
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
    let record = serde_json::to_string(after).map_err(|e| ApiError::internal(e.to_string()))?;
    app.pool.index(&[indexed(app, after)]).await?;
    if let Err(e) = app.kv.put(&ImageMeta::kv_key(&after.id), &record).await {
        let _ = app.pool.index(&[indexed(app, before)]).await;
        return Err(e.into());
    }
    Ok(())
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
    // Two racing uploads of the same bytes can leave the object owned by the other id.
    let owner = app.blobs.head(&meta.location).await?;
    if owner.is_some_and(|custom| custom.iter().all(|(k, v)| k != "id" || *v == meta.id)) {
        app.blobs.delete(&meta.location).await?;
        removed.bytes = true;
    }
    // Variants are capped per image, so one listing finds them all.
    for key in app.blobs.list(&variant_prefix(&meta.id), 1000).await? {
        app.blobs.delete(&key).await?;
        removed.variants += 1;
    }
    for key in edge_keys {
        removed.edge_cached += u32::from(app.edge.delete(&key).await);
    }
    Ok(removed)
}
