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
use crate::faults::{Faults, Faulty, Rule};
use futures_util::StreamExt;
use std::cell::Cell;
use std::rc::Rc;
use worker::{event, Cache, Context, Env, ScheduleContext, ScheduledEvent};

thread_local! {
    /// Injected faults and a clock offset, set by tests through `POST /__faults`; they live as
    /// long as the isolate.
    static FAULTS: Rc<Faults> = Rc::new(Faults::default());
    static CLOCK_OFFSET_MS: Cell<u64> = const { Cell::new(0) };
}

/// The Worker's bindings.
struct Cloudflare;

/// Behind [`Faulty`], which passes every call through unless `TEST_FAULTS` is on and a test
/// has set rules.
impl Platform for Cloudflare {
    type Blobs = Faulty<r2::R2>;
    type Kv = Faulty<kv::WorkersKv>;
    type Pool = Faulty<pool::DoPool>;
    type Http = Faulty<fetch::WorkerFetch>;
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
/// `Content-Length` to refuse it by. A body whose declared length is within the limit is read
/// in one piece (one copy into wasm memory, no growing buffer).
async fn read_body(req: &mut worker::Request, limit: u64, declared: u64) -> Result<Vec<u8>, ApiError> {
    let unreadable = |e: worker::Error| ApiError::bad_request("unreadable_body", format!("the request body could not be read: {e}"));
    if declared > 0 && declared <= limit {
        // One copy into wasm memory; the runtime has checked the length against the header.
        return req.bytes().await.map_err(unreadable);
    }
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
        let declared = request.header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        request.body = match read_body(&mut req, crate::router::body_limit(&config, &request), declared).await {
            Ok(body) => body,
            Err(e) => return Ok(crate::router::decorate(crate::router::shaped(&request, e))),
        };
    }
    let test_control = request.url.path() == "/__faults" && config.test_faults;
    let app = app(config, env)?;
    if test_control {
        return Ok(set_faults(&app, &request).await);
    }
    Ok(crate::router::handle(&app, request).await)
}

fn app(config: Config, env: &Env) -> Result<App<Cloudflare>, ApiError> {
    let binding = |e: worker::Error| {
        crate::log::error(&format!("a binding is missing from wrangler.toml: {e}"));
        ApiError::internal("the Worker is not configured completely: see the log")
    };
    let faults = FAULTS.with(Rc::clone);
    let blobs = Faulty::new(r2::R2(env.bucket("IMAGES").map_err(binding)?), faults.clone());
    let kv = Faulty::new(kv::WorkersKv(env.kv("META").map_err(binding)?), faults.clone());
    let stub = env.durable_object("POOL").and_then(|ns| ns.id_from_name("pools")?.get_stub()).map_err(binding)?;
    let pool = Faulty::new(pool::DoPool(stub), faults.clone());
    let http = Faulty::new(fetch::WorkerFetch, faults);
    let now_ms = worker::Date::now().as_millis() + CLOCK_OFFSET_MS.with(Cell::get);
    Ok(App::<Cloudflare>::new(config, blobs, kv, pool, http, EdgeCache, Limits(env.clone()), now_ms))
}

/// `POST /__faults` `{"rules": [Rule…], "clock_offset_ms": n, "drop_objects": [key…],
/// "drop_records": [id…]}` (only with `TEST_FAULTS` on): replaces the injected faults, moves
/// the app's clock forward by `n`, and stages leftovers by deleting R2 objects or KV records
/// behind the app's back.
async fn set_faults(app: &App<Cloudflare>, req: &http::Request) -> http::Response {
    use crate::storage::{Blobs, Kv};
    #[derive(serde::Deserialize)]
    struct Control {
        #[serde(default)]
        rules: Vec<Rule>,
        #[serde(default)]
        clock_offset_ms: u64,
        #[serde(default)]
        drop_objects: Vec<String>,
        #[serde(default)]
        drop_records: Vec<String>,
    }
    let c = match serde_json::from_slice::<Control>(&req.body) {
        Ok(c) => c,
        Err(e) => return http::Response::from(ApiError::bad_request("malformed_json", e.to_string())),
    };
    FAULTS.with(|f| f.set(Vec::new()));
    for key in &c.drop_objects {
        let _ = app.blobs.delete(key).await;
    }
    for id in &c.drop_records {
        let _ = app.kv.delete(&crate::meta::ImageMeta::kv_key(id)).await;
    }
    FAULTS.with(|f| f.set(c.rules));
    CLOCK_OFFSET_MS.with(|o| o.set(c.clock_offset_ms));
    http::Response::empty(204)
}

/// The cron trigger: one self-repair run (see [`crate::repair`]).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    console_error_panic_hook::set_once();
    let run = async {
        let config = Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?;
        crate::repair::run(&app(config, &env)?).await
    };
    match run.await {
        Ok(report) => crate::log::info(&format!("repair: {}", serde_json::to_string(&report).unwrap_or_default())),
        Err(e) => crate::log::error(&format!("repair: {e}")),
    }
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
        let hit = Cache::default().get(key, false).await.ok()??;
        let headers: http::Headers = hit.headers().entries().collect();
        let status = hit.status_code();
        // The cached body is piped to the client as it is.
        let body = match hit.into_parts().1 {
            worker::ResponseBody::Stream(s) => http::Body::Stream(http::Stream(s)),
            worker::ResponseBody::Body(b) => http::Body::Bytes(b),
            worker::ResponseBody::Empty => http::Body::default(),
        };
        Some(http::Response { status, headers, body })
    }
    async fn put(&self, key: &str, resp: &http::Response) {
        // Only bytes imgbed made go in (variants); a stream could be read only once.
        if matches!(resp.body, http::Body::Stream(_)) {
            return;
        }
        if let Ok(copy) = to_worker(resp.clone()) {
            let _ = Cache::default().put(key, copy).await;
        }
    }
    async fn delete(&self, key: &str) -> bool {
        matches!(Cache::default().delete(key, false).await, Ok(worker::CacheDeletionOutcome::Success))
    }
}

fn to_worker(resp: http::Response) -> worker::Result<worker::Response> {
    let out = match resp.body {
        http::Body::Stream(s) => worker::Response::from_body(worker::ResponseBody::Stream(s.0))?,
        body if body.is_empty() => worker::Response::empty()?,
        http::Body::Bytes(b) => worker::Response::from_bytes(b)?,
    };
    let headers = worker::Headers::new();
    for (k, v) in resp.headers.iter() {
        headers.set(k, v)?;
    }
    Ok(out.with_status(resp.status).with_headers(headers))
}
