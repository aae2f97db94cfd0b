//! Lsky Pro 2.x: `POST /api/v1/upload` and `DELETE /api/v1/images/<key>`, as PicList's built-in
//! Lsky uploader (V2) and PicGo's lankong plugin speak it, remote delete included.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::clients::delete;
use crate::http::{Request, Response};
use crate::upload;
use serde_json::{json, Value};

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(data) => Response::json(200, &json!({"status": true, "message": "success", "data": data})),
        Err(e) => error(e),
    }
}

/// An error in Lsky's shape.
pub fn error(e: ApiError) -> Response {
    Response::json(e.status, &json!({"status": false, "message": e.message, "data": {}})).retrying(&e)
}

pub async fn upload<P: Platform>(app: &App<P>, req: &mut Request) -> Response {
    answer(store(app, req).await)
}

async fn store<P: Platform>(app: &App<P>, req: &mut Request) -> Result<Value, ApiError> {
    let mut form = upload::read_form(&app.config, req, None)?;
    form.legacy_digests = true;
    let req = &*req;
    // Lsky albums are numbers; imgbed albums are names, so `album_id` becomes the album.
    if let Some(album) = form.field(req, "album_id").filter(|a| !a.is_empty()) {
        form.fields.push(("album".into(), album));
    }
    let u = upload::store_all(app, req, form).await?.remove(0);
    let m = &u.meta;
    let l = &u.links;
    Ok(json!({
        "key": u.delete_key.as_deref().unwrap_or(&m.id),
        "name": format!("{}.{}", m.id, m.format.ext()),
        "pathname": m.file_path().trim_start_matches('/'),
        "origin_name": m.name,
        "size": m.bytes as f64 / 1024.0,
        "original_size": u.original_bytes as f64 / 1024.0,
        "mimetype": m.format.mime(),
        "extension": m.format.ext(),
        "md5": m.md5,
        "sha1": m.sha1,
        // Beyond Lsky: the upload page says when a link waits for review, or was there already.
        "status": m.status,
        "repeat": u.repeat,
        "width": m.width,
        "height": m.height,
        "links": {
            "url": l.url,
            "html": l.html,
            "bbcode": l.bbcode,
            "markdown": l.markdown,
            "markdown_with_link": format!("[{}]({})", l.markdown, l.url),
            "thumbnail_url": u.thumb_url,
            "delete_url": l.delete_url,
        }
    }))
}

pub async fn remove<P: Platform>(app: &App<P>, req: &Request, key: &str) -> Response {
    answer(delete::by_key(app, req, key).await.map(|_| json!({})))
}
