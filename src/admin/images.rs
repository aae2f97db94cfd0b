//! The console's images: listing, one image (get, edit, delete, move between channels), many at once, stats.

use super::{json_body, no_store};
use crate::access::guard::{self};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::{delete_token, is_valid_id};
use crate::http::{Request, Response};
use crate::index::record::{ImageMeta, Status};
use crate::library;
use crate::library::edit::apply_changes;
use crate::library::view::Links;
use crate::platform::Pool;
use serde_json::{json, Map, Value};

/// Most images one bulk action may name.
pub const MAX_BULK: usize = 500;

/// An image as the console sees it: the public view plus review, storage and the delete link
/// (derivable only with `SECRET_KEY`; random tokens are never stored).
fn admin_json<P: Platform>(app: &App<P>, base: &str, meta: &ImageMeta) -> Value {
    let token = app.config.secret_key.as_deref().map(|k| delete_token(Some(k), &meta.id));
    let links = Links::new(&app.config, base, meta, token.as_deref());
    let mut v = links.record_json(meta);
    v["channel"] = json!(meta.channel);
    v["telegram"] = json!(meta.telegram.as_ref().map(|t| json!({"chat_id": t.chat_id, "bot": t.bot, "parts": t.parts.len()})));
    v["moderation"] = json!(meta.moderation);
    // The image's own setting (what PATCH changes) apart from its album's.
    v["private"] = json!(meta.private);
    v["album_private"] = json!(meta.album_private);
    v["suggested_tags"] = json!(meta.suggested_tags);
    v["thumbnail_url"] = json!(format!("{base}{}?{}", meta.file_path(), crate::library::variants::THUMB_QUERY));
    v
}

/// `GET /api/admin/images`: a page of the catalog.
pub async fn list<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let page = app.pool.list(&crate::index::catalog::query_of(req)?).await?;
    let base = app.base_url(req);
    let images: Vec<Value> = page.records.iter().map(|m| admin_json(app, &base, m)).collect();
    Ok(no_store(Response::json(200, &json!({"images": images, "cursor": page.next, "total": page.total}))))
}

pub(super) async fn load<P: Platform>(app: &App<P>, id: &str) -> Result<ImageMeta, ApiError> {
    let not_found = || ApiError::not_found(format!("no image with id {id:?}"));
    if !is_valid_id(id) {
        return Err(not_found());
    }
    library::load(app, id).await?.ok_or_else(not_found)
}

/// `GET /api/admin/images/<id>`.
pub async fn get<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let meta = load(app, id).await?;
    Ok(no_store(Response::json(200, &admin_json(app, &app.base_url(req), &meta))))
}

/// `PATCH /api/admin/images/<id>` with the fields of `PATCH /api/images/<id>`.
pub async fn update<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let before = load(app, id).await?;
    let after = apply_changes(&before, &json_body(req)?)?;
    library::update(app, &before, &after).await?;
    Ok(no_store(Response::json(200, &admin_json(app, &app.base_url(req), &after))))
}

/// `DELETE /api/admin/images/<id>`: says what was removed.
pub async fn remove<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let meta = load(app, id).await?;
    let removed = library::remove(app, &meta).await?;
    Ok(no_store(Response::json(200, &json!({"deleted": removed}))))
}

/// `POST /api/admin/images/<id>/move` with `{"channel": "r2"|"telegram"}`: copies the bytes,
/// switches the record, then removes the old copy.
pub async fn move_channel<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let meta = load(app, id).await?;
    let to = match json_body(req)?.get("channel").and_then(Value::as_str) {
        Some("r2") => crate::index::record::Channel::R2,
        Some("telegram") => crate::index::record::Channel::Telegram,
        _ => return Err(ApiError::bad_request("bad_parameter", "channel must be \"r2\" or \"telegram\"")),
    };
    let (after, left) = library::move_to(app, &meta, to).await?;
    let mut v = admin_json(app, &app.base_url(req), &after);
    v["left_in_telegram"] = json!(left);
    Ok(no_store(Response::json(200, &v)))
}

/// The change a bulk action makes to one record; `None` for delete.
fn bulk_change(action: &str, body: &Map<String, Value>, meta: &ImageMeta) -> Result<Option<ImageMeta>, ApiError> {
    let status = |s: Status| {
        let mut m = meta.clone();
        m.status = s;
        Ok(Some(m))
    };
    match action {
        "delete" => Ok(None),
        "block" | "reject" => status(Status::Blocked),
        "unblock" | "approve" => status(Status::Active),
        "pend" => status(Status::Pending),
        "move" => {
            let album = body.get("album").cloned().unwrap_or(Value::Null);
            apply_changes(meta, &Map::from_iter([("album".to_string(), album)])).map(Some)
        }
        "tag" => {
            let list = |k: &str| -> Vec<String> {
                body.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(|t| Some(t.as_str()?.trim().to_lowercase())).collect()).unwrap_or_default()
            };
            let (add, drop) = (list("add"), list("remove"));
            let mut tags: Vec<Value> = meta.tags.iter().filter(|t| !drop.contains(t)).map(|t| json!(t)).collect();
            tags.extend(add.iter().filter(|t| !meta.tags.contains(t)).map(|t| json!(t)));
            apply_changes(meta, &Map::from_iter([("tags".to_string(), Value::Array(tags))])).map(Some)
        }
        other => Err(ApiError::bad_request("bad_parameter", format!("unknown action {other:?}: delete, block, unblock, approve, reject, pend, move or tag"))),
    }
}

/// `POST /api/admin/bulk` with `{"ids": [...], "action": ..., "album"?, "add"?, "remove"?}`:
/// applies one action to each image; reports each result, so a partial failure is visible.
pub async fn bulk<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let body = json_body(req)?;
    let action = body.get("action").and_then(Value::as_str).unwrap_or("");
    let ids: Vec<&str> = body.get("ids").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(ApiError::bad_request("bad_parameter", format!("ids must list 1 to {MAX_BULK} image ids")));
    }
    // Refuse an unknown action or bad fields before touching anything.
    bulk_change(action, &body, &sample_meta())?;
    let failure = |id: &str, e: ApiError| json!({"id": id, "ok": false, "error": {"code": e.code, "message": e.message}});
    // Deletes go one by one; changes are collected and indexed in one step.
    let mut results = Vec::with_capacity(ids.len());
    let mut changes: Vec<(usize, ImageMeta, ImageMeta)> = Vec::new();
    for id in ids {
        let outcome = async {
            let meta = load(app, id).await?;
            match bulk_change(action, &body, &meta)? {
                None => Ok(json!({"id": id, "ok": true, "deleted": library::remove(app, &meta).await?})),
                Some(after) => {
                    changes.push((results.len(), meta, after));
                    Ok::<_, ApiError>(Value::Null)
                }
            }
        };
        results.push(outcome.await.unwrap_or_else(|e| failure(id, e)));
    }
    let pairs: Vec<(&ImageMeta, &ImageMeta)> = changes.iter().map(|(_, before, after)| (before, after)).collect();
    let written = match pairs.is_empty() {
        true => Vec::new(),
        false => library::update_many(app, &pairs).await.unwrap_or_else(|e| pairs.iter().map(|_| Err(e.clone())).collect()),
    };
    for ((at, _, after), outcome) in changes.iter().zip(written) {
        results[*at] = match outcome {
            Ok(()) => json!({"id": after.id, "ok": true, "status": after.status}),
            Err(e) => failure(&after.id, e),
        };
    }
    let failed = results.iter().filter(|r| r["ok"] == false).count();
    Ok(no_store(Response::json(200, &json!({"action": action, "done": results.len() - failed, "failed": failed, "results": results}))))
}

/// A stand-in record for checking a bulk action's fields before any image is loaded.
fn sample_meta() -> ImageMeta {
    serde_json::from_value(json!({
        "id": "probe", "name": "probe.png", "format": "png", "bytes": 0, "width": 1, "height": 1,
        "orientation": "square", "sha256": "", "uploaded": 0, "status": "active", "channel": "r2",
        "location": "", "delete_hash": "",
    }))
    .expect("a valid sample record") // ok: a literal
}

/// `GET /api/admin/stats`.
pub async fn stats<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let mut stats = app.pool.stats(app.now_ms).await?;
    let repair = crate::library::repair::state(app).await?;
    stats["repair"] = json!({"last_run": repair.last_run, "last": repair.last, "total": repair.total, "passes": repair.passes});
    Ok(no_store(Response::json(200, &stats)))
}
