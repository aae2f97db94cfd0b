//! Read-only JSON about images and about this instance.

use crate::app::{App, Platform};
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::library;
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
            "max_files_per_request": crate::config::MAX_FILES_PER_REQUEST,
            "features": {"albums": true, "random": true, "compress": true, "transforms": true},
            "compress_by_default": c.compress_uploads,
        }),
    )
    .with_header("cache-control", "no-cache")
}
