//! Read-only JSON about images and about this instance.

use crate::app::{App, Platform};
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::library;
use crate::links::Links;
use crate::sniff::Format;
use serde_json::json;

/// `GET /api/images/<id>`: the record without secrets, with ready-made links.
pub async fn get<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    let meta = library::load_visible(app, req, id).await?;
    let links = Links::new(&app.base_url(req), &meta, None);
    Ok(Response::json(200, &meta.public_json(&links)).with_header("cache-control", "no-cache"))
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
