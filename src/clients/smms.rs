//! SM.MS v2: `POST /api/v2/upload` (field `smfile`, raw `Authorization: <token>`) and
//! `GET /api/v2/delete/<hash>`, so PicGo's and PicList's built-in SM.MS uploader works with its
//! "backup domain" set to this host.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::random_token;
use crate::clients::delete;
use crate::http::{Method, Request, Response};
use crate::upload;
use crate::upload::split_delete_key;
use serde_json::{json, Value};

/// SM.MS's success shape. PicGo 3.x accepts an answer only when `code === 200` or
/// `message === "success"`, older PicGo and PicList when `code === "success"` or `success`:
/// `code: "success"` with `message: "success"` satisfies all of them.
fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(data) => Response::json(200, &json!({"success": true, "code": "success", "message": "success", "data": data, "RequestId": random_token()})),
        Err(e) => error(e),
    }
}

/// An error in SM.MS's shape.
pub fn error(e: ApiError) -> Response {
    Response::json(e.status, &json!({"success": false, "code": e.code, "message": e.message, "data": [], "RequestId": random_token()})).retrying(&e)
}

pub async fn upload<P: Platform>(app: &App<P>, req: &mut Request) -> Response {
    answer(store(app, req).await)
}

async fn store<P: Platform>(app: &App<P>, req: &mut Request) -> Result<Value, ApiError> {
    let form = upload::read_form(&app.config, req, None)?;
    let req = &*req;
    let u = upload::store_all(app, req, form).await?.remove(0);
    let m = &u.meta;
    let hash = u.delete_key.clone().unwrap_or_else(|| m.id.clone());
    let delete = format!("{}/api/v2/delete/{hash}", app.base_url(req));
    Ok(json!({
        "file_id": 0,
        "width": m.width,
        "height": m.height,
        "filename": m.name,
        "storename": format!("{}.{}", m.id, m.format.ext()),
        "size": m.bytes,
        "path": m.file_path(),
        "hash": hash,
        "url": u.links.url,
        "delete": delete,
        "page": u.links.url,
    }))
}

/// `GET /api/v2/delete/<hash>`: SM.MS clients (PicList) send it with their `Authorization`
/// token and delete; a bare GET — a person's browser, or a chat app previewing the link — only
/// gets a page that asks, whose button POSTs. `POST` deletes.
pub async fn remove<P: Platform>(app: &App<P>, req: &Request, hash: &str) -> Result<Response, ApiError> {
    if req.method != Method::Post && req.header("authorization").is_none() {
        let (id, token) = split_delete_key(hash).ok_or_else(|| ApiError::forbidden("this key cannot delete anything: use the key from the upload answer"))?;
        return delete::link(app, req, id, token).await;
    }
    Ok(answer(delete::by_key(app, req, hash).await.map(|_| json!([]))))
}
