//! Read-only JSON about images and about this instance.

use crate::access::tokens::Scope;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use crate::library;
use crate::library::edit::apply_changes;
use crate::library::view::Links;
use crate::platform::Pool;
use crate::sniff::Format;
use serde_json::json;

/// `GET /api/images/<id>`: the record without secrets, with ready-made links.
pub async fn get<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    let meta = library::load_visible(app, req, id).await?;
    let links = Links::new(&app.config, &app.base_url(req), &meta, None);
    let mut answer = links.record_json(&meta);
    // Animations keep theirs out: a still frame would flash the wrong picture.
    if !meta.animated {
        answer["preview"] = json!(library::preview::preview(app, &meta).await);
    }
    Ok(Response::json(200, &answer).with_header("cache-control", "no-cache"))
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
    let links = Links::new(&app.config, &app.base_url(req), &meta, None);
    Ok(Response::json(200, &links.record_json(&meta)).with_header("cache-control", "no-store"))
}

/// `GET /api/images` (the admin, or a token with the `list` scope, which sees its own uploads):
/// a page of the catalog, with the console's filters and sort.
pub async fn list<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let who = crate::access::guard::scoped(app, req, Scope::List).await?;
    let mut query = crate::index::catalog::query_of(req)?;
    query.owner = who.owner();
    let page = app.pool.list(&query).await?;
    let base = app.base_url(req);
    let images: Vec<_> = page.records.iter().map(|m| Links::new(&app.config, &base, m, None).record_json(m)).collect();
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
