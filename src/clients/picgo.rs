//! The PicGo/PicList server protocol: what Obsidian's "Image auto upload" plugin calls in remote
//! mode and PicList's `piclist` uploader sends. `POST /upload` answers
//! `{"success":true,"result":[url…],"fullResult":[…]}`, `POST /delete` takes
//! `{"list":[fullResult…]}` back, `/heartbeat` says it is alive.
//!
//! It shares `POST /upload` with the Telegraph shape; [`is_picgo`] tells them apart by what
//! only these clients send.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::clients::delete;
use crate::http::{Request, Response};
use crate::upload;
use serde_json::{json, Value};

/// PicGo-protocol clients send `?key=`, `?configName=`/`?picbed=`, a `list` form field, a JSON
/// body of local paths, or (Obsidian's clipboard mode) nothing at all.
pub fn is_picgo(req: &Request) -> bool {
    ["key", "configName", "picbed"].iter().any(|q| req.query(q).is_some())
        || req.content_type().starts_with("application/json")
        || (req.content_type().starts_with("multipart/") && memchr::memmem::find(&req.body, b"name=\"list\"").is_some())
        || (req.body.is_empty() && req.header("content-type").is_none())
}

/// An error in the PicGo server's shape.
pub fn error(e: ApiError) -> Response {
    failure(e.status, &e.message).retrying(&e)
}

fn failure(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"success": false, "message": message, "msg": message}))
}

pub async fn upload<P: Platform>(app: &App<P>, req: &mut Request) -> Response {
    if req.content_type().starts_with("application/json") || req.body.is_empty() {
        // PicGo's local mode: a list of paths on the client's disk, which a server cannot read.
        return failure(
            200,
            "imgbed is a remote server and cannot read files on your computer: enable remote server mode \
             in your client so it sends the image itself (multipart)",
        );
    }
    let form = upload::read_form(&app.config, req, None);
    let req = &*req;
    let uploaded = match form {
        Ok(form) => upload::store_all(app, req, form).await,
        Err(e) => Err(e),
    };
    match uploaded {
        Ok(list) => Response::json(
            200,
            &json!({
                "success": true,
                "result": list.iter().map(|u| u.links.url.clone()).collect::<Vec<_>>(),
                "fullResult": list.iter().map(|u| json!({
                    "imgUrl": u.links.url,
                    "fileName": u.meta.name,
                    "extname": format!(".{}", u.meta.format.ext()),
                    "width": u.meta.width,
                    "height": u.meta.height,
                    "type": "imgbed",
                    "id": u.meta.id,
                    "hash": u.delete_key,
                    "deleteUrl": u.links.delete_url,
                })).collect::<Vec<_>>(),
            }),
        ),
        Err(e) => error(e),
    }
}

/// `POST /delete` with `{"list":[fullResult…]}`: deletes each by its `hash`.
pub async fn remove<P: Platform>(app: &App<P>, req: &Request) -> Response {
    let items = match serde_json::from_slice::<Value>(&req.body).ok().and_then(|v| v.get("list")?.as_array().cloned()) {
        Some(items) => items,
        None => return failure(400, "send JSON {\"list\":[…]} with the fullResult items of the upload answer"),
    };
    for item in &items {
        let Some(key) = item.get("hash").and_then(Value::as_str) else {
            return failure(400, "an item has no hash: send the fullResult items exactly as the upload answered them");
        };
        match delete::by_key(app, req, key).await {
            Ok(_) => {}
            // Deleting what is already gone is done, not an error.
            Err(ApiError { status: 404, .. }) => {}
            Err(e) => return error(e),
        }
    }
    Response::json(200, &json!({"success": true}))
}

pub fn heartbeat() -> Response {
    Response::json(200, &json!({"success": true, "result": "alive"}))
}
