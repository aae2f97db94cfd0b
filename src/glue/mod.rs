//! The Worker entrypoint: converts between `worker` types and [`crate::http`], builds the app
//! over the `IMAGES` (R2) and `META` (KV) bindings, and hands the request to the router.

mod fetch;
mod kv;
mod pool;
mod r2;

use crate::app::{App, Platform};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::{self, Method};
use crate::conditional::etag_matches;
use crate::handlers::transform::edge_cache_key;
use worker::{event, Cache, Context, Env};

/// The Worker's bindings.
struct Cloudflare;

impl Platform for Cloudflare {
    type Blobs = r2::R2;
    type Kv = kv::WorkersKv;
    type Pool = pool::DoPool;
    type Http = fetch::WorkerFetch;
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<worker::Response> {
    console_error_panic_hook::set_once();
    // Transform answers are also kept in this location's edge cache.
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    let (accept, if_none_match) = (header("accept"), header("if-none-match"));
    let cache_key = req.url().ok().and_then(|u| edge_cache_key(Method::parse(req.method().as_ref()), &u, &accept));
    if let Some(key) = &cache_key {
        if let Ok(Some(mut hit)) = Cache::default().get(key.as_str(), false).await {
            // Cached responses have immutable headers; `Headers::clone` makes a mutable copy.
            let headers = hit.headers().clone();
            headers.set("x-variant-cache", "edge")?;
            let etag = headers.get("etag")?.unwrap_or_default();
            if !if_none_match.is_empty() && etag_matches(&if_none_match, &etag) {
                return Ok(worker::Response::empty()?.with_status(304).with_headers(headers));
            }
            let status = hit.status_code();
            return Ok(worker::Response::from_bytes(hit.bytes().await?)?.with_status(status).with_headers(headers));
        }
    }
    let resp = match serve(req, &env).await {
        Ok(r) => r,
        Err(e) => http::Response::from(e),
    };
    let mut out = to_worker(resp)?;
    if let (Some(key), 200) = (cache_key, out.status_code()) {
        let copy = out.cloned()?;
        ctx.wait_until(async move {
            let _ = Cache::default().put(key, copy).await;
        });
    }
    Ok(out)
}

async fn serve(mut req: worker::Request, env: &Env) -> Result<http::Response, ApiError> {
    let config = Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?;
    let method = Method::parse(req.method().as_ref());
    let url = req.url().map_err(|e| ApiError::bad_request("bad_url", e.to_string()))?;
    let headers: http::Headers = req.headers().entries().collect();
    // Refuse oversized bodies before reading them into the isolate's 128 MB.
    let declared = headers.get("content-length").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    if declared > config.max_body_bytes() {
        return Err(ApiError::too_large(config.max_upload_bytes));
    }
    let body = match method {
        Method::Post | Method::Put | Method::Patch => req
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request("unreadable_body", format!("the request body could not be read: {e}")))?,
        _ => Vec::new(),
    };
    let binding = |e: worker::Error| ApiError::internal(format!("a binding is missing from wrangler.toml: {e}"));
    let blobs = r2::R2(env.bucket("IMAGES").map_err(binding)?);
    let kv = kv::WorkersKv(env.kv("META").map_err(binding)?);
    let pool = pool::DoPool(env.durable_object("POOL").and_then(|ns| ns.id_from_name("pools")?.get_stub()).map_err(binding)?);
    let app = App::<Cloudflare>::new(config, blobs, kv, pool, fetch::WorkerFetch, worker::Date::now().as_millis());
    let req = http::Request { method, url, headers, body };
    Ok(crate::router::handle(&app, req).await)
}

fn to_worker(resp: http::Response) -> worker::Result<worker::Response> {
    let out = if resp.body.is_empty() { worker::Response::empty()? } else { worker::Response::from_bytes(resp.body)? };
    let headers = worker::Headers::new();
    for (k, v) in resp.headers.iter() {
        headers.set(k, v)?;
    }
    Ok(out.with_status(resp.status).with_headers(headers))
}
