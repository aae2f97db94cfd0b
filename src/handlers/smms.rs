//! SM.MS v2: `POST /api/v2/upload` (field `smfile`, raw `Authorization: <token>`) and
//! `GET /api/v2/delete/<hash>`, so PicGo's and PicList's built-in SM.MS uploader works with its
//! "backup domain" set to this host.

use crate::app::{App, Platform};
use crate::error::ApiError;
use crate::handlers::{delete, upload};
use crate::http::{Request, Response};
use crate::ids::random_token;
use serde_json::{json, Value};

fn answer(result: Result<(Value, &str), ApiError>) -> Response {
    let request_id = random_token();
    match result {
        Ok((data, message)) => Response::json(
            200,
            &json!({"success": true, "code": "success", "message": message, "data": data, "RequestId": request_id}),
        ),
        Err(e) => Response::json(
            e.status,
            &json!({"success": false, "code": e.code, "message": e.message, "data": [], "RequestId": request_id}),
        ),
    }
}

pub async fn upload<P: Platform>(app: &App<P>, req: &Request) -> Response {
    answer(store(app, req).await.map(|d| (d, "Upload success.")))
}

async fn store<P: Platform>(app: &App<P>, req: &Request) -> Result<Value, ApiError> {
    let u = upload::store_all(app, req, upload::read_form(&app.config, req, None)?).await?.remove(0);
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

pub async fn remove<P: Platform>(app: &App<P>, req: &Request, hash: &str) -> Response {
    answer(delete::by_key(app, req, hash).await.map(|_| (json!([]), "File delete success.")))
}
