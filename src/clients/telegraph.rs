//! Telegraph-Image's own API: `POST /upload` answers `[{"src":"/file/<id>.<ext>"}]`, and
//! `PUT /upload/<filename>` takes the bytes as the body (curl, uPic, scripts).

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use crate::upload::{read_form, store_all, Uploaded};
use serde_json::json;

/// `POST /upload` in the Telegraph-Image shape: `[{"src":"/file/<id>.<ext>"}]`, plus the delete
/// link (clients read `0.src` and ignore the rest). `?format=txt` answers the URLs as text.
pub async fn telegraph<P: Platform>(app: &App<P>, req: &mut Request) -> Result<Response, ApiError> {
    let form = read_form(&app.config, req, None)?;
    let req = &*req;
    let uploaded = store_all(app, req, form).await?;
    if let Some(text) = as_text(req, &uploaded) {
        return Ok(text);
    }
    let full = req.query("returnFormat").as_deref() == Some("full");
    let list: Vec<_> = uploaded
        .iter()
        .map(|u| {
            let src = if full { u.links.url.clone() } else { u.meta.file_path() };
            json!({"src": src, "delete_url": u.links.delete_url, "bytes": u.meta.bytes, "original_bytes": u.original_bytes, "repeat": u.repeat})
        })
        .collect();
    Ok(Response::json(200, &json!(list)))
}

/// `PUT /upload/<filename>` with the bytes as the body: the links as JSON, or text with
/// `?format=txt`.
pub async fn raw<P: Platform>(app: &App<P>, req: &mut Request, name: &str) -> Result<Response, ApiError> {
    let form = read_form(&app.config, req, Some(name))?;
    let req = &*req;
    let uploaded = store_all(app, req, form).await?;
    if let Some(text) = as_text(req, &uploaded) {
        return Ok(text);
    }
    let u = &uploaded[0];
    let mut body = u.links.json();
    body["id"] = json!(u.meta.id);
    body["width"] = json!(u.meta.width);
    body["height"] = json!(u.meta.height);
    body["bytes"] = json!(u.meta.bytes);
    body["original_bytes"] = json!(u.original_bytes);
    body["status"] = json!(u.meta.status);
    body["album"] = json!(u.meta.album);
    body["tags"] = json!(u.meta.tags);
    body["repeat"] = json!(u.repeat);
    body["compressed"] = json!(u.meta.bytes != u.original_bytes);
    Ok(Response::json(200, &body))
}

/// `?format=txt`: one URL per line, what shell scripts and Typora want.
fn as_text(req: &Request, uploaded: &[Uploaded]) -> Option<Response> {
    (req.query("format").as_deref() == Some("txt")).then(|| Response::text(200, uploaded.iter().map(|u| u.links.url.as_str()).collect::<Vec<_>>().join("\n")))
}
