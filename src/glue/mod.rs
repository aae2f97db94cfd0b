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
use crate::security;
use futures_util::StreamExt;
use worker::{event, Cache, Context, Env};

/// The Worker's bindings.
struct Cloudflare;

impl Platform for Cloudflare {
    type Blobs = r2::R2;
    type Kv = kv::WorkersKv;
    type Pool = pool::DoPool;
    type Http = fetch::WorkerFetch;
    type Cache = EdgeCache;
    type Limits = Limits;
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<worker::Response> {
    console_error_panic_hook::set_once();
    let resp = match serve(req, &env).await {
        Ok(r) => r,
        Err(e) => crate::router::decorate(http::Response::from(e)),
    };
    to_worker(resp)
}

/// Reads a body chunk by chunk, giving up as soon as it passes `limit`: a chunked upload has no
/// `Content-Length` to refuse it by.
async fn read_body(req: &mut worker::Request, limit: u64) -> Result<Vec<u8>, ApiError> {
    let unreadable = |e: worker::Error| ApiError::bad_request("unreadable_body", format!("the request body could not be read: {e}"));
    let Ok(mut stream) = req.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(security::body_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn serve(mut req: worker::Request, env: &Env) -> Result<http::Response, ApiError> {
    let config = Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?;
    let method = Method::parse(req.method().as_ref());
    let url = req.url().map_err(|e| ApiError::bad_request("bad_url", e.to_string()))?;
    let headers: http::Headers = req.headers().entries().collect();
    let mut request = http::Request { method, url, headers, body: Vec::new() };
    if let Some(refusal) = crate::router::before_body(&config, &request) {
        return Ok(refusal);
    }
    if matches!(method, Method::Post | Method::Put | Method::Patch) {
        request.body = match read_body(&mut req, config.max_body_bytes()).await {
            Ok(body) => body,
            Err(e) => return Ok(crate::router::decorate(crate::router::shaped(&request, e))),
        };
    }
    let binding = |e: worker::Error| {
        crate::log::error(&format!("a binding is missing from wrangler.toml: {e}"));
        ApiError::internal("the Worker is not configured completely: see the log")
    };
    let blobs = r2::R2(env.bucket("IMAGES").map_err(binding)?);
    let kv = kv::WorkersKv(env.kv("META").map_err(binding)?);
    let pool = pool::DoPool(env.durable_object("POOL").and_then(|ns| ns.id_from_name("pools")?.get_stub()).map_err(binding)?);
    let app = App::<Cloudflare>::new(config, blobs, kv, pool, fetch::WorkerFetch, EdgeCache, Limits(env.clone()), worker::Date::now().as_millis());
    Ok(crate::router::handle(&app, request).await)
}

/// The `[[ratelimits]]` bindings, looked up by name when a limit is checked.
struct Limits(Env);

impl crate::limits::RateLimiter for Limits {
    async fn allow(&self, limit: crate::limits::Limit, key: &str) -> bool {
        // No binding: that limit is off.
        let Ok(binding) = self.0.rate_limiter(limit.binding()) else { return true };
        match binding.limit(key.to_string()).await {
            Ok(outcome) => outcome.success,
            Err(e) => {
                crate::log::error(&format!("rate limiter {}: {e}", limit.binding()));
                true
            }
        }
    }
}

/// The Cache API of this location.
struct EdgeCache;

impl crate::storage::EdgeCache for EdgeCache {
    async fn get(&self, key: &str) -> Option<http::Response> {
        let mut hit = Cache::default().get(key, false).await.ok()??;
        let headers: http::Headers = hit.headers().entries().collect();
        let body = hit.bytes().await.ok()?;
        Some(http::Response { status: hit.status_code(), headers, body })
    }
    async fn put(&self, key: &str, resp: &http::Response) {
        if let Ok(copy) = to_worker(resp.clone()) {
            let _ = Cache::default().put(key, copy).await;
        }
    }
    async fn delete(&self, key: &str) -> bool {
        matches!(Cache::default().delete(key, false).await, Ok(worker::CacheDeletionOutcome::Success))
    }
}

fn to_worker(resp: http::Response) -> worker::Result<worker::Response> {
    let out = if resp.body.is_empty() { worker::Response::empty()? } else { worker::Response::from_bytes(resp.body)? };
    let headers = worker::Headers::new();
    for (k, v) in resp.headers.iter() {
        headers.set(k, v)?;
    }
    Ok(out.with_status(resp.status).with_headers(headers))
}
