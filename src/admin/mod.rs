//! The admin console (`/admin`) and its JSON API (`/api/admin/*`): login and sessions, the
//! catalog listing, one image or many at once, stats, tokens, reindex and export.
//! Every answer is `no-store`; every change goes through [`crate::library`].

mod albums;
mod backup;
mod images;
mod session;
mod tokens;

pub use albums::{albums, make_link, update_album};
pub use backup::{export, import, reindex};
pub use images::{bulk, get, list, move_channel, remove, stats, update, MAX_BULK};
pub use session::{login, logout, page, session};
pub use tokens::{revoke_token, tokens};

use crate::base::error::ApiError;
use crate::http::{Request, Response};
use serde_json::{Map, Value};

pub(crate) fn no_store(resp: Response) -> Response {
    resp.with_header("cache-control", "no-store")
}

pub(crate) fn json_body(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request("malformed_json", format!("send a JSON object: {e}")))?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("malformed_json", "send a JSON object")),
    }
}
