//! Upload tokens made in the console: list, create (shown once), revoke.

use super::{json_body, no_store};
use crate::access::guard::{self};
use crate::access::tokens::{self, Scope};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use serde_json::{json, Value};

fn token_json(r: &tokens::TokenRecord) -> Value {
    json!({"id": r.id, "name": r.name, "scopes": r.scopes, "created": r.created, "expires": r.expires, "last_used": r.last_used})
}

/// `GET /api/admin/tokens`, `POST /api/admin/tokens` `{"name", "scopes", "expires_in_days"?}`.
pub async fn tokens<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    if req.method == crate::http::Method::Get {
        let list: Vec<Value> = tokens::list(app).await?.iter().map(token_json).collect();
        return Ok(no_store(Response::json(200, &json!({"tokens": list}))));
    }
    let body = json_body(req)?;
    let name = body.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::bad_request("bad_parameter", "name must be 1 to 64 characters"));
    }
    let scopes: Vec<Scope> = match body.get("scopes") {
        None => vec![Scope::Upload],
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| ApiError::bad_request("bad_parameter", "scopes must be a list of upload, delete, list"))?,
    };
    if scopes.is_empty() {
        return Err(ApiError::bad_request("bad_parameter", "a token needs at least one scope: upload, delete or list"));
    }
    let expires = match body.get("expires_in_days") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|d| *d > 0.0 && *d <= 3650.0)
                .map(|d| app.now_ms + (d * 86_400_000.0) as u64)
                .ok_or_else(|| ApiError::bad_request("bad_parameter", "expires_in_days must be a number of days from 0 to 3650"))?,
        ),
    };
    let (token, record) = tokens::create(app, name, scopes, expires).await?;
    let mut v = token_json(&record);
    v["token"] = json!(token);
    Ok(no_store(Response::json(201, &v)))
}

/// `DELETE /api/admin/tokens/<id>`.
pub async fn revoke_token<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    if !tokens::revoke(app, id).await? {
        return Err(ApiError::not_found(format!("no token with id {id:?}")));
    }
    Ok(no_store(Response::json(200, &json!({"revoked": id}))))
}
