//! Rebuilding the index from KV, and backups: export as JSON Lines, import one image.

use super::{json_body, no_store};
use crate::access::guard::{self};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::is_valid_id;
use crate::http::{Request, Response};
use crate::index::catalog::Batch;
use crate::index::record::ImageMeta;
use crate::library;
use crate::platform::{Kv, Pool};
use serde_json::{json, Map, Value};

/// Records read from KV per reindex call by default (one KV read each, one index write for
/// all); `?limit=` up to 500 on paid plans, where a request may make more KV reads.
const REINDEX_BATCH: u32 = 100;

/// Records per export page.
const EXPORT_PAGE: u32 = 500;

/// `POST /api/admin/reindex[?cursor=]`: rebuilds catalog and pools from the KV records, one
/// batch per call (see [`crate::index::catalog::rebuild`]). Without a cursor it starts a run; the
/// answer's `cursor` continues it, and `done` says when every record has been read.
pub async fn reindex<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    // `cursor` and `limit` from the query or, as scripts send them, a JSON body.
    let body = if req.body.is_empty() { Map::new() } else { json_body(req)? };
    let param = |name: &str| {
        req.query(name).or_else(|| match body.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    let cursor = param("cursor").filter(|c| !c.is_empty());
    let batch = match param("limit") {
        None => REINDEX_BATCH,
        Some(v) => {
            v.parse().ok().filter(|n| (1..=500).contains(n)).ok_or_else(|| ApiError::bad_request("bad_parameter", "limit must be a number from 1 to 500"))?
        }
    };
    let (keys, next) = app.kv.list("img:", cursor.as_deref(), batch).await?;
    let mut items = Vec::with_capacity(keys.len());
    let mut unreadable = Vec::new();
    for key in &keys {
        let id = key.trim_start_matches("img:");
        match library::load(app, id).await {
            Ok(Some(meta)) => items.push(library::indexed(app, &meta)),
            Ok(None) => {}
            Err(_) => unreadable.push(id.to_string()),
        }
    }
    let pooled = items.iter().filter(|i| i.pools.is_some()).count();
    let indexed = items.len();
    let rebuilt = Batch { items, kept: unreadable.clone(), first: cursor.is_none(), last: next.is_none(), now_ms: app.now_ms };
    let removed = app.pool.rebuild(&rebuilt).await?;
    Ok(no_store(Response::json(
        200,
        &json!({"read": keys.len(), "indexed": indexed, "pooled": pooled, "removed": removed, "unreadable": unreadable, "cursor": next, "done": next.is_none()}),
    )))
}

/// `POST /api/admin/import`: one image from a backup (`scripts/restore`), as multipart with
/// `record` (its line of the export) and `file` (its bytes). 201 when stored, 200 when it was
/// here already.
pub async fn import<P: Platform>(app: &App<P>, req: &mut Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let mut form = crate::upload::read_form(&app.config, req, None)?;
    let req = &*req;
    let record = form.field(req, "record").ok_or_else(|| ApiError::bad_request("bad_parameter", "send the record as a form field named 'record'"))?;
    let meta: ImageMeta = serde_json::from_str(&record).map_err(|e| ApiError::bad_request("bad_record", format!("the record is not an export line: {e}")))?;
    if !is_valid_id(&meta.id) {
        return Err(ApiError::bad_request("bad_record", "the record's id is not an imgbed id"));
    }
    let Some(file) = form.files.pop() else {
        return Err(ApiError::bad_request("no_file", "send the image's bytes in a field named 'file'"));
    };
    let stored = library::import(app, meta.clone(), file.bytes).await?;
    Ok(no_store(Response::json(if stored { 201 } else { 200 }, &json!({"id": meta.id, "stored": stored}))))
}

/// `GET /api/admin/export[?cursor=]`: every KV record (the source of truth, so an export works
/// even when the catalog does not) as JSON Lines, delete hash and owner fingerprint included
/// for backups. A page of up to 500 records per answer (one KV read each); the `X-Next-Cursor`
/// header (and a `Link: rel="next"`) names the next page.
pub async fn export<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let (keys, next) = app.kv.list("img:", req.query("cursor").filter(|c| !c.is_empty()).as_deref(), EXPORT_PAGE).await?;
    let mut body = Vec::new();
    for key in &keys {
        // The stored text as it is: a backup must not depend on this version's record shape.
        if let Some(record) = app.kv.get(key).await? {
            body.extend(record.trim().as_bytes());
            body.push(b'\n');
        }
    }
    let mut resp = Response::new(200, "application/x-ndjson", body);
    if let Some(next) = &next {
        let url = format!("{}/api/admin/export?cursor={}", app.base_url(req), crate::http::pct_encode(next));
        resp = resp.with_header("x-next-cursor", next.clone()).with_header("link", format!("<{url}>; rel=\"next\""));
    }
    Ok(no_store(resp))
}
