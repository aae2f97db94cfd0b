//! Chevereto / ImgBB v1: `POST /api/1/upload` (and ImgBB's `/1/upload`). The key comes as a form
//! field, query parameter or `X-API-Key`; `source` (Chevereto) or `image` (ImgBB, which also
//! selects the ImgBB answer layout) is a file, base64 or a URL to fetch. `format=json|txt|redirect`.
//! ShareX's built-in Chevereto uploader works with just the URL and key.

use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::base::error::{human_bytes, ApiError};
use crate::http::{Request, Response};
use crate::upload::ingest::IncomingFile;
use crate::upload::{self, UploadForm, Uploaded};

use crate::platform::upstream;
use base64::Engine;
use serde_json::{json, Value};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Chevereto,
    ImgBB,
}

pub async fn upload<P: Platform>(app: &App<P>, req: &mut Request) -> Response {
    match store(app, req).await {
        Ok((u, layout, format)) => match format.as_deref() {
            Some("txt") => Response::text(200, u.links.url.clone()),
            Some("redirect") => Response::redirect(302, &u.links.url),
            _ if layout == Layout::ImgBB => Response::json(200, &imgbb(&u)),
            _ => Response::json(200, &chevereto(&u)),
        },
        Err(e) => error(e),
    }
}

async fn store<P: Platform>(app: &App<P>, req: &mut Request) -> Result<(Uploaded, Layout, Option<String>), ApiError> {
    let image_file = form_has_file_field(req, "image");
    let mut form = upload::read_form(&app.config, req, None)?;
    form.legacy_digests = true;
    let req = &*req;
    let layout = if form.field(req, "image").is_some() || image_file { Layout::ImgBB } else { Layout::Chevereto };
    let format = form.field(req, "format");
    if let Some(f) = format.as_deref().filter(|f| !["json", "txt", "redirect"].contains(f)) {
        return Err(ApiError::bad_request("bad_parameter", format!("format must be json, txt or redirect, not {f:?}")));
    }
    // Who is asking comes before any work on their behalf, above all an outgoing fetch.
    let uploader = crate::access::guard::uploader(app, req, form.field(req, "key").as_deref()).await?;
    resolve_text_source(app, req, &uploader, &mut form).await?;
    let u = upload::store_all(app, req, form).await?.remove(0);
    Ok((u, layout, format))
}

/// Whether the multipart body has a part named `name` (the ImgBB API's file field is `image`).
fn form_has_file_field(req: &Request, name: &str) -> bool {
    memchr::memmem::find(&req.body, format!("name=\"{name}\"").as_bytes()).is_some()
}

/// An error in Chevereto's shape.
pub fn error(e: ApiError) -> Response {
    let status_txt = match e.status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    };
    Response::json(e.status, &json!({"status_code": e.status, "error": {"message": e.message, "code": e.status}, "status_txt": status_txt})).retrying(&e)
}

/// A `source`/`image` that arrived as text is base64 (optionally a `data:` URI) or a URL.
async fn resolve_text_source<P: Platform>(app: &App<P>, req: &Request, uploader: &Uploader, form: &mut UploadForm) -> Result<(), ApiError> {
    if !form.files.is_empty() {
        return Ok(());
    }
    let Some(source) = form.field(req, "source").or_else(|| form.field(req, "image")) else {
        return Ok(());
    };
    let source = source.trim();
    let bytes = if source.starts_with("http://") || source.starts_with("https://") {
        upload::count_fetch(app, req, uploader, form).await?;
        fetch_source(app, req, source).await?
    } else {
        let b64 = source.split_once(";base64,").map_or(source, |(_, data)| data);
        let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let engines = [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE_NO_PAD];
        engines
            .iter()
            .find_map(|e| e.decode(clean.trim_end_matches('=')).ok().or_else(|| e.decode(&clean).ok()))
            .ok_or_else(|| ApiError::bad_request("bad_source", "source is neither a file, a URL nor valid base64"))?
    };
    let name = source.starts_with("http").then(|| source.rsplit('/').next().unwrap_or("").split('?').next().unwrap_or("").to_string());
    form.files.push(IncomingFile { name, bytes });
    Ok(())
}

async fn fetch_source<P: Platform>(app: &App<P>, req: &Request, url: &str) -> Result<Vec<u8>, ApiError> {
    let mut own: Vec<String> = req.header("host").map(|h| h.split(':').next().unwrap_or(h).to_string()).into_iter().collect();
    own.extend(req.url.host_str().map(str::to_string));
    own.extend(app.config.public_url.as_deref().and_then(|u| url::Url::parse(u).ok()?.host_str().map(str::to_string)));
    upstream::fetch_public(&app.http, url, &own, &app.config.url_upload_allow_hosts, app.config.max_upload_bytes).await
}

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

fn date(ms: u64) -> String {
    let secs = ms / 1000;
    let rem = secs % 86_400;
    format!("{} {:02}:{:02}:{:02}", crate::base::dates::iso_date(secs / 86_400), rem / 3600, rem % 3600 / 60, rem % 60)
}

fn file_info(u: &Uploaded, url: &str) -> Value {
    let m = &u.meta;
    json!({
        "filename": format!("{}.{}", m.id, m.format.ext()),
        "name": stem(&m.name),
        "mime": m.format.mime(),
        "extension": m.format.ext(),
        "url": url,
    })
}

fn chevereto(u: &Uploaded) -> Value {
    let m = &u.meta;
    let d = date(m.uploaded);
    json!({
        "status_code": 200,
        "success": {"message": "image uploaded", "code": 200},
        "image": {
            "name": stem(&m.name),
            "extension": m.format.ext(),
            "size": m.bytes,
            "width": m.width,
            "height": m.height,
            "date": d,
            "date_gmt": d,
            "title": stem(&m.name),
            "id_encoded": m.id,
            "filename": format!("{}.{}", m.id, m.format.ext()),
            "original_filename": m.name,
            "mime": m.format.mime(),
            "md5": m.md5,
            "size_formatted": human_bytes(m.bytes),
            "url": u.links.url,
            "url_viewer": u.links.url,
            "display_url": u.links.url,
            "image": file_info(u, &u.links.url),
            "thumb": file_info(u, &u.thumb_url),
            "medium": file_info(u, &u.links.url),
            "delete_url": u.links.delete_url,
        },
        "status_txt": "OK",
    })
}

fn imgbb(u: &Uploaded) -> Value {
    let m = &u.meta;
    json!({
        "data": {
            "id": m.id,
            "title": stem(&m.name),
            "url_viewer": u.links.url,
            "url": u.links.url,
            "display_url": u.links.url,
            "width": m.width,
            "height": m.height,
            "size": m.bytes,
            "time": m.uploaded / 1000,
            "expiration": 0,
            "image": file_info(u, &u.links.url),
            "thumb": file_info(u, &u.thumb_url),
            "medium": file_info(u, &u.links.url),
            "delete_url": u.links.delete_url,
        },
        "success": true,
        "status": 200,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_chevereto_style() {
        assert_eq!(super::date(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(super::date(0), "1970-01-01 00:00:00");
    }
}
