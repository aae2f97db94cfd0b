//! Read-only JSON about images and about this instance.

use crate::app::{App, Platform};
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::library;
use crate::ingest::{check_label, parse_tags};
use crate::links::Links;
use crate::sniff::Format;
use crate::storage::Kv;
use serde_json::json;

/// `GET /api/images/<id>`: the record without secrets, with ready-made links.
pub async fn get<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    let meta = library::load_visible(app, req, id).await?;
    let links = Links::new(&app.base_url(req), &meta, None);
    Ok(Response::json(200, &meta.public_json(&links)).with_header("cache-control", "no-cache"))
}

/// `PATCH /api/images/<id>` (admin) with JSON `{"album", "tags", "name", "status"}`, any subset:
/// renames, moves between albums, retags, blocks, approves. One KV write, and the random pools
/// follow (an image leaves them unless it is active).
pub async fn update<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    crate::auth::check_admin(&app.config, req)?;
    let mut meta = library::load(app, id).await?.ok_or_else(|| ApiError::not_found(format!("no image with id {id:?}")))?;
    let body: serde_json::Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("send a JSON object: {e}")))?;
    let fields = body.as_object().ok_or_else(|| ApiError::bad_request("malformed_json", "send a JSON object"))?;
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
                    serde_json::Value::Array(items) => parse_tags(
                        items.iter().map(|t| t.as_str().ok_or_else(|| bad("tags", "a list of strings"))).collect::<Result<Vec<_>, _>>()?,
                    )?,
                    _ => return Err(bad("tags", "a list of strings or \"a,b\"")),
                };
            }
            "name" => {
                let name = value.as_str().map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| bad("name", "a non-empty string"))?;
                meta.name = crate::ingest::base_name(Some(name), meta.format);
            }
            "status" => {
                meta.status = serde_json::from_value(value.clone()).map_err(|_| bad("status", "active, blocked or pending"))?;
            }
            other => return Err(ApiError::bad_request("bad_parameter", format!("unknown field {other:?}: album, tags, name and status can change"))),
        }
    }
    library::update(app, &meta).await?;
    let links = Links::new(&app.base_url(req), &meta, None);
    Ok(Response::json(200, &meta.public_json(&links)).with_header("cache-control", "no-store"))
}

/// `GET /api/images?cursor=&limit=` (admin): a page of image ids in key order.
pub async fn list<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    crate::auth::check_admin(&app.config, req)?;
    let limit = match req.query("limit") {
        None => 1000,
        Some(v) => v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
            ApiError::bad_request("bad_parameter", format!("limit={v:?} is not valid: expected a number from 1 to 1000"))
        })?,
    };
    let (keys, cursor) = app.kv.list("img:", req.query("cursor").as_deref(), limit).await?;
    let ids: Vec<&str> = keys.iter().map(|k| k.trim_start_matches("img:")).collect();
    Ok(Response::json(200, &json!({"images": ids, "cursor": cursor})).with_header("cache-control", "no-store"))
}

/// `GET /api/config`: the public settings a client needs before uploading.
pub fn config<P: Platform>(app: &App<P>) -> Response {
    let c = &app.config;
    Response::json(
        200,
        &json!({
            "max_upload_bytes": c.max_upload_bytes,
            "types": Format::ALL.iter().map(|f| f.mime()).collect::<Vec<_>>(),
            "extensions": Format::ALL.iter().map(|f| f.ext()).collect::<Vec<_>>(),
            "token_required": !c.allow_anonymous_upload,
            "strip_exif": c.strip_exif,
            "require_review": c.require_review,
            "max_files_per_request": crate::security::MAX_FILES_PER_REQUEST,
            "features": {"albums": true, "random": true, "compress": true, "transforms": true},
            "compress_by_default": c.compress_uploads,
        }),
    )
    .with_header("cache-control", "no-cache")
}
