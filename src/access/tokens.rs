//! Upload tokens made in the console, beside the fixed `UPLOAD_TOKENS`: each has a name,
//! scopes and an optional expiry. Only a hash is stored (KV `tok:<sha256>`), so the token
//! itself is shown once, when it is made. Uses and revocations are kept in the index store
//! (strongly consistent): using a token costs one KV read and one call to the store, never a
//! KV write, and a revoked token stays revoked whatever races its revocation.

use crate::access::auth::MANAGED_TOKEN_PREFIX;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::sha256_hex;
use crate::platform::{Kv, Pool};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Upload through every upload API.
    Upload,
    /// Delete the images this token uploaded (`DELETE /api/images/<id>`).
    Delete,
    /// List the images this token uploaded (`GET /api/images`).
    List,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public handle: the first 16 hex digits of the token's hash.
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created: u64,
    #[serde(default)]
    pub expires: Option<u64>,
    #[serde(default)]
    pub last_used: Option<u64>,
}

impl TokenRecord {
    pub fn allows(&self, scope: Scope, now_ms: u64) -> bool {
        self.scopes.contains(&scope) && self.expires.is_none_or(|e| now_ms < e)
    }
}

fn kv_key(token: &str) -> String {
    format!("tok:{}", sha256_hex(token.as_bytes()))
}

/// Makes a token; returns it (to show once) and its record.
pub async fn create<P: Platform>(app: &App<P>, name: &str, scopes: Vec<Scope>, expires: Option<u64>) -> Result<(String, TokenRecord), ApiError> {
    let token = format!("{MANAGED_TOKEN_PREFIX}{}", crate::base::ids::random_token());
    let key = kv_key(&token);
    let record = TokenRecord { id: key[4..20].to_string(), name: name.to_string(), scopes, created: app.now_ms, expires, last_used: None };
    app.kv.put(&key, &serde_json::to_string(&record).map_err(|e| ApiError::internal(e.to_string()))?).await?;
    Ok((token, record))
}

/// The record of a presented token, if it is one of ours and not revoked; notes the use.
pub async fn find<P: Platform>(app: &App<P>, token: &str) -> Result<Option<TokenRecord>, ApiError> {
    if !token.starts_with(MANAGED_TOKEN_PREFIX) {
        return Ok(None);
    }
    let key = kv_key(token);
    let Some(text) = app.kv.get(&key).await? else {
        return Ok(None);
    };
    let Ok(mut record) = serde_json::from_str::<TokenRecord>(&text) else {
        return Ok(None);
    };
    if !app.pool.token_use(&record.id, app.now_ms).await? {
        return Ok(None);
    }
    record.last_used = Some(app.now_ms);
    Ok(Some(record))
}

/// Every console-made token, newest first.
pub async fn list<P: Platform>(app: &App<P>) -> Result<Vec<TokenRecord>, ApiError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (keys, next) = app.kv.list("tok:", cursor.as_deref(), 1000).await?;
        for key in keys {
            if let Some(r) = app.kv.get(&key).await?.and_then(|t| serde_json::from_str::<TokenRecord>(&t).ok()) {
                out.push(r);
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let used: std::collections::HashMap<String, u64> = app.pool.token_uses().await?.into_iter().collect();
    for r in &mut out {
        r.last_used = used.get(&r.id).copied().or(r.last_used);
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.created));
    Ok(out)
}

/// Revokes a token by its id; false when there is none.
pub async fn revoke<P: Platform>(app: &App<P>, id: &str) -> Result<bool, ApiError> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let (keys, _) = app.kv.list(&format!("tok:{id}"), None, 10).await?;
    if !keys.is_empty() {
        app.pool.token_revoke(id).await?;
    }
    for key in &keys {
        app.kv.delete(key).await?;
    }
    Ok(!keys.is_empty())
}
