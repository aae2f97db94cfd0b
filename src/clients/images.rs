//! Read-only JSON about images and about this instance.

use crate::access::tokens::Scope;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use crate::index::pools::{check_label, parse_tags};
use crate::index::record::ImageMeta;
use crate::library;
use crate::library::view::Links;
use crate::platform::Pool;
use crate::sniff::Format;
use serde_json::json;

/// `GET /api/images/<id>`: the record without secrets, with ready-made links.
pub async fn get<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    let meta = library::load_visible(app, req, id).await?;
    let links = Links::new(&app.base_url(req), &meta, None);
    Ok(Response::json(200, &links.record_json(&meta)).with_header("cache-control", "no-cache"))
}

/// `PATCH /api/images/<id>` (admin) with JSON `{"album", "tags", "name", "status"}`, any subset:
/// renames, moves between albums, retags, blocks, approves. One KV write, and the random pools
/// follow (an image leaves them unless it is active).
pub async fn update<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    crate::access::guard::admin(app, req).await?;
    let before = library::load(app, id).await?.ok_or_else(|| ApiError::not_found(format!("no image with id {id:?}")))?;
    let body: serde_json::Value = serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request("malformed_json", format!("send a JSON object: {e}")))?;
    let fields = body.as_object().ok_or_else(|| ApiError::bad_request("malformed_json", "send a JSON object"))?;
    let meta = apply_changes(&before, fields)?;
    library::update(app, &before, &meta).await?;
    let links = Links::new(&app.base_url(req), &meta, None);
    Ok(Response::json(200, &links.record_json(&meta)).with_header("cache-control", "no-store"))
}

/// A record with `fields` changed: `album` (string or null), `tags` (list or "a,b"), `name`,
/// `status`. Shared by PATCH and the console's bulk actions.
pub fn apply_changes(before: &ImageMeta, fields: &serde_json::Map<String, serde_json::Value>) -> Result<ImageMeta, ApiError> {
    let mut meta = before.clone();
    let bad = |field: &str, expected: &str| ApiError::bad_request("bad_parameter", format!("{field} must be {expected}"));
    for (key, value) in fields {
        match key.as_str() {
            "album" => {
                meta.album = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(a) if a.trim().is_empty() => None,
                    serde_json::Value::String(a) => {
                        check_label("album", a.trim())?;
                        Some(a.trim().to_string())
                    }
                    _ => return Err(bad("album", "a string or null")),
                }
            }
            "tags" => {
                meta.tags = match value {
                    serde_json::Value::String(t) => parse_tags(t.split(','))?,
                    serde_json::Value::Array(items) => {
                        parse_tags(items.iter().map(|t| t.as_str().ok_or_else(|| bad("tags", "a list of strings"))).collect::<Result<Vec<_>, _>>()?)?
                    }
                    _ => return Err(bad("tags", "a list of strings or \"a,b\"")),
                };
            }
            "name" => {
                let name = value.as_str().map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| bad("name", "a non-empty string"))?;
                // Keep the extension, so the download name still opens in the right program.
                let base = crate::upload::ingest::base_name(Some(name), meta.format);
                let ext = meta.format.ext();
                let has_ext = base.rsplit_once('.').is_some_and(|(_, e)| e.eq_ignore_ascii_case(ext) || (ext == "jpg" && e.eq_ignore_ascii_case("jpeg")));
                meta.name = if has_ext { base } else { format!("{base}.{ext}") };
            }
            "status" => {
                meta.status = serde_json::from_value(value.clone()).map_err(|_| bad("status", "active, blocked or pending"))?;
            }
            other => return Err(ApiError::bad_request("bad_parameter", format!("unknown field {other:?}: album, tags, name and status can change"))),
        }
    }
    Ok(meta)
}

/// `GET /api/images` (the admin, or a token with the `list` scope, which sees its own uploads):
/// a page of the catalog, with the console's filters and sort.
pub async fn list<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let who = crate::access::guard::scoped(app, req, Scope::List).await?;
    let mut query = crate::index::catalog::query_of(req)?;
    query.owner = who.owner();
    let page = app.pool.list(&query).await?;
    let base = app.base_url(req);
    let images: Vec<_> = page.records.iter().map(|m| Links::new(&base, m, None).record_json(m)).collect();
    Ok(Response::json(200, &json!({"images": images, "cursor": page.next, "total": page.total})).with_header("cache-control", "no-store"))
}

/// `DELETE /api/images/<id>`: the admin, or a token with the `delete` scope for its own uploads.
pub async fn remove<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    let who = crate::access::guard::scoped(app, req, Scope::Delete).await?;
    let not_found = || ApiError::not_found(format!("no image with id {id:?}"));
    let meta = library::load(app, id).await?.ok_or_else(not_found)?;
    if !who.owns(meta.owner.as_deref()) {
        return Err(ApiError::forbidden("this token may delete only the images it uploaded"));
    }
    let removed = library::remove(app, &meta).await?;
    Ok(Response::json(200, &json!({"deleted": removed})).with_header("cache-control", "no-store"))
}

/// `GET /api/config`: the public settings a client needs before uploading.
pub fn config<P: Platform>(app: &App<P>) -> Response {
    let c = &app.config;
    Response::json(
        200,
        &json!({
            "max_upload_bytes": c.max_upload_bytes,
            "types": Format::ALL.iter().filter(|f| c.accepts(**f)).map(|f| f.mime()).collect::<Vec<_>>(),
            "extensions": Format::ALL.iter().filter(|f| c.accepts(**f)).map(|f| f.ext()).collect::<Vec<_>>(),
            "daily_quota": {"uploads": c.quota_daily_uploads, "bytes": c.quota_daily_bytes},
            "token_required": !c.allow_anonymous_upload,
            "strip_exif": c.strip_exif,
            "require_review": c.review_mode != crate::config::ReviewMode::Off,
            "review_mode": c.review_mode.as_str(),
            "max_files_per_request": crate::budget::MAX_FILES_PER_REQUEST,
            "features": {"albums": true, "random": true, "compress": true, "transforms": true},
            "compress_by_default": c.compress_uploads,
            "channels": c.channels(),
            "default_channel": match c.storage { crate::config::Storage::R2 => "r2", crate::config::Storage::Telegram => "telegram", crate::config::Storage::Both => "r2+telegram" },
        }),
    )
    .with_header("cache-control", "no-cache")
}
