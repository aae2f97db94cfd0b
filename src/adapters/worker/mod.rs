//! The Worker entrypoint: converts between `worker` types and [`crate::http`], builds the app
//! over the `IMAGES` (R2) and `META` (KV) bindings, and hands the request to the router.

mod fetch;
mod images;
mod kv;
mod pool;
mod r2;

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::budget;
use crate::config::Config;
use crate::http::{self, Method};
use crate::platform::faults::{Faults, Faulty, Rule};
use std::cell::Cell;
use std::rc::Rc;
use worker::wasm_bindgen::prelude::*;
use worker::{event, web_sys, Cache, Context, Env, ScheduleContext, ScheduledEvent};

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
    type Images = images::CfImages;
}

/// Takes the runtime's own `Request`: workers-rs's wrapper reads `request.cf` on every request,
/// which the runtime builds as a fresh object each time.
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> worker::Result<web_sys::Response> {
    console_error_panic_hook::set_once();
    let resp = match serve(req, &env).await {
        Ok(r) => r,
        Err(e) => crate::router::decorate(http::Response::from(e)),
    };
    to_web(resp)
}

#[wasm_bindgen(module = "/src/adapters/worker/http.js")]
extern "C" {
    /// See `http.js`: every header in one string, `name:value` per line.
    #[wasm_bindgen(js_name = headerLines)]
    fn header_lines(headers: &web_sys::Headers) -> String;
    #[wasm_bindgen(catch)]
    fn respond(status: u16, lines: &str, body: &JsValue) -> Result<web_sys::Response, JsValue>;
}

fn headers_of(headers: &web_sys::Headers) -> http::Headers {
    header_lines(headers).lines().filter_map(|l| l.split_once(':')).collect()
}

fn to_web(resp: http::Response) -> worker::Result<web_sys::Response> {
    let mut lines = String::new();
    for (k, v) in resp.headers.iter() {
        lines.push_str(k);
        lines.push(':');
        lines.push_str(v);
        lines.push('\n');
    }
    let body: JsValue = match resp.body {
        http::Body::Stream(s) => s.0.into(),
        http::Body::Bytes(b) if b.is_empty() => JsValue::NULL,
        // A copy into JavaScript: the runtime may read a body after wasm memory has moved on.
        http::Body::Bytes(b) => worker::js_sys::Uint8Array::from(b.as_slice()).into(),
    };
    respond(resp.status, &lines, &body).map_err(worker::Error::from)
}

#[wasm_bindgen(module = "/src/adapters/worker/body.js")]
extern "C" {
    /// See `body.js`: `next()` gives the next chunk (a view of one reused buffer) or null.
    type BodyReader;
    #[wasm_bindgen(js_name = bodyReader)]
    fn body_reader(stream: &worker::web_sys::ReadableStream) -> BodyReader;
    #[wasm_bindgen(method)]
    fn next(this: &BodyReader) -> worker::js_sys::Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &BodyReader) -> worker::js_sys::Promise;
}

/// Reads a body chunk by chunk straight into one buffer (each chunk copied once), giving up as
/// soon as it passes `limit`: a chunked upload has no `Content-Length` to refuse it by.
async fn read_body(req: &web_sys::Request, limit: u64, declared: u64) -> Result<Vec<u8>, ApiError> {
    use worker::js_sys::Uint8Array;
    use worker::wasm_bindgen::JsCast;
    let unreadable = |e: JsValue| ApiError::bad_request("unreadable_body", format!("the request body could not be read: {e:?}"));
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    let reader = body_reader(&stream);
    // Without a declared length, room for the limit: pages are only taken as they are written,
    // and growing by doubling would hold the old and the new buffer at once (1.5× the limit).
    let mut body = Vec::with_capacity(if declared > 0 { declared.min(limit) } else { limit } as usize);
    loop {
        let chunk = worker::wasm_bindgen_futures::JsFuture::from(reader.next()).await.map_err(unreadable)?;
        if chunk.is_null() {
            return Ok(body);
        }
        let chunk: Uint8Array = chunk.unchecked_into();
        let (at, n) = (body.len(), chunk.length() as usize);
        if (at + n) as u64 > limit {
            let _ = reader.cancel();
            return Err(budget::body_too_large(limit));
        }
        body.resize(at + n, 0);
        chunk.copy_to(&mut body[at..]);
    }
}

async fn serve(req: web_sys::Request, env: &Env) -> Result<http::Response, ApiError> {
    let config = config(env)?;
    let method = Method::parse(&req.method());
    let url = url::Url::parse(&req.url()).map_err(|e| ApiError::bad_request("bad_url", e.to_string()))?;
    let headers = headers_of(&req.headers());
    let mut request = http::Request { method, url, headers, body: Vec::new() };
    crate::router::prepare(&config, &mut request);
    if let Some(refusal) = crate::router::before_body(&config, &request) {
        if refusal.status == 403 {
            // A token that is not accepted: a failed credential like any other.
            if let Err(e) = crate::access::guard::credential(&app(config.clone(), env)?, &request, false).await {
                return Ok(crate::router::decorate(crate::router::shaped(&request, e)));
            }
        }
        return Ok(refusal);
    }
    if matches!(method, Method::Post | Method::Put | Method::Patch) {
        let declared = request.header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        request.body = match read_body(&req, crate::router::body_limit(&config, &request), declared).await {
            Ok(body) => body,
            Err(e) => return Ok(crate::router::decorate(crate::router::shaped(&request, e))),
        };
    }
    let test_control = request.url.path() == "/__faults" && config.test_faults;
    if test_control && crate::access::auth::admin_credentials(&config, &request) != Some(true) {
        return Ok(http::Response::from(ApiError::forbidden("POST /__faults needs the admin token")));
    }
    let app = app(config, env)?;
    if test_control {
        return Ok(set_faults(&app, &request).await);
    }
    Ok(crate::router::handle(&app, request).await)
}

/// The settings, read once per isolate: an isolate's variables never change, and reading some
/// fifty of them through the JS boundary on every request was a fifth of a view's CPU.
fn config(env: &Env) -> Result<Rc<Config>, ApiError> {
    thread_local! {
        static CONFIG: std::cell::OnceCell<Rc<Config>> = const { std::cell::OnceCell::new() };
    }
    if let Some(c) = CONFIG.with(|c| c.get().cloned()) {
        return Ok(c);
    }
    let c = Rc::new(Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?);
    CONFIG.with(|cell| cell.set(c.clone()).ok());
    Ok(c)
}

fn app(config: Rc<Config>, env: &Env) -> Result<App<Cloudflare>, ApiError> {
    let binding = |e: worker::Error| {
        crate::base::log::error(&format!("a binding is missing from wrangler.toml: {e}"));
        ApiError::internal("the Worker is not configured completely: see the log")
    };
    let faults = FAULTS.with(Rc::clone);
    let blobs = Faulty::new(r2::R2::from_env(env, "IMAGES").map_err(binding)?, faults.clone());
    let kv = Faulty::new(kv::WorkersKv(env.kv("META").map_err(binding)?), faults.clone());
    env.durable_object("POOL").map_err(binding)?;
    let pool = Faulty::new(pool::DoPool::new(env.clone()), faults.clone());
    let http = Faulty::new(fetch::WorkerFetch, faults);
    let now_ms = worker::Date::now().as_millis() + CLOCK_OFFSET_MS.with(Cell::get);
    Ok(App::<Cloudflare>::new(config, blobs, kv, pool, http, EdgeCache, Limits(env.clone()), images::CfImages::from_env(env), now_ms))
}

/// `POST /__faults` `{"rules": [Rule…], "clock_offset_ms": n, "drop_objects": [key…],
/// "drop_records": [id…]}` (only with `TEST_FAULTS` on): replaces the injected faults, moves
/// the app's clock forward by `n`, and stages leftovers by deleting R2 objects or KV records
/// behind the app's back.
async fn set_faults(app: &App<Cloudflare>, req: &http::Request) -> http::Response {
    use crate::platform::{Blobs, Kv};
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
        let _ = app.kv.delete(&crate::index::record::ImageMeta::kv_key(id)).await;
    }
    FAULTS.with(|f| f.set(c.rules));
    CLOCK_OFFSET_MS.with(|o| o.set(c.clock_offset_ms));
    http::Response::empty(204)
}

/// The cron trigger: one self-repair run (see [`crate::library::repair`]).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    console_error_panic_hook::set_once();
    let run = async {
        let config = config(&env)?;
        crate::library::repair::run(&app(config, &env)?).await
    };
    match run.await {
        Ok(report) => crate::base::log::info(&format!("repair: {}", serde_json::to_string(&report).unwrap_or_default())),
        Err(e) => crate::base::log::error(&format!("repair: {e}")),
    }
}

/// The `[[ratelimits]]` bindings, looked up by name when a limit is checked.
struct Limits(Env);

impl crate::platform::rate::RateLimiter for Limits {
    async fn allow(&self, limit: crate::platform::rate::Limit, key: &str) -> bool {
        // No binding: that limit is off.
        let Ok(binding) = self.0.rate_limiter(limit.binding()) else {
            return true;
        };
        match binding.limit(key.to_string()).await {
            Ok(outcome) => outcome.success,
            Err(e) => {
                crate::base::log::error(&format!("rate limiter {}: {e}", limit.binding()));
                true
            }
        }
    }
}

/// The Cache API of this location.
struct EdgeCache;

impl crate::platform::EdgeCache for EdgeCache {
    async fn get(&self, key: &str) -> Option<http::Response> {
        let hit = Cache::default().get(key, false).await.ok()??;
        let headers = headers_of(&hit.headers().0);
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
        if let Ok(copy) = to_web(resp.clone()) {
            let copy = worker::Response::from(copy);
            let _ = Cache::default().put(key, copy).await;
        }
    }
    async fn delete(&self, key: &str) -> bool {
        matches!(Cache::default().delete(key, false).await, Ok(worker::CacheDeletionOutcome::Success))
    }
}
