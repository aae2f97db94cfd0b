//! [`Http`] over the Workers `fetch` API: bodies are read chunk by chunk and dropped at the
//! caller's limit, and the whole exchange races a timer.

use crate::http::{Headers, Stream};
use crate::platform::upstream::{Http, OutRequest, OutResponse, Piece, UpstreamError};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Delay, Fetch, Method, RequestInit, RequestRedirect};

pub struct WorkerFetch;

fn err(e: worker::Error) -> UpstreamError {
    UpstreamError::Unreachable(e.to_string())
}

async fn exchange(req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError> {
    let headers = worker::Headers::new();
    for (k, v) in &req.headers {
        headers.set(k, v).map_err(err)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(req.method.to_string())).with_headers(headers);
    if req.manual_redirects {
        init.with_redirect(RequestRedirect::Manual);
    }
    if !req.body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(req.body.as_slice()).into()));
    }
    let request = worker::Request::new_with_init(&req.url, &init).map_err(err)?;
    let mut resp = Fetch::Request(request).send().await.map_err(err)?;
    let headers: Headers = resp.headers().entries().collect();
    let declared = headers.get("content-length").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    if declared > max_bytes {
        return Err(UpstreamError::TooLarge);
    }
    let mut body = Vec::new();
    if let Ok(mut stream) = resp.stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(err)?;
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(UpstreamError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
    }
    Ok(OutResponse { status: resp.status_code(), headers, body })
}

impl Http for WorkerFetch {
    async fn send(&self, req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError> {
        let timer = Delay::from(Duration::from_millis(req.timeout_ms));
        let work = exchange(req, max_bytes);
        match select(std::pin::pin!(work), std::pin::pin!(timer)).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => Err(UpstreamError::TimedOut),
        }
    }
    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }
    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }
    async fn stream(&self, pieces: &[Piece], timeout_ms: u64) -> Result<Result<Stream, u16>, UpstreamError> {
        let list = js_sys::Array::new();
        for p in pieces {
            let range = if p.whole() { JsValue::NULL } else { JsValue::from_str(&format!("bytes={}-{}", p.from, p.from + p.len - 1)) };
            let item = [JsValue::from_str(&p.url), range, JsValue::from_f64(p.from as f64), JsValue::from_f64(p.len as f64)];
            list.push(&item.into_iter().collect::<js_sys::Array>());
        }
        let opened = JsFuture::from(open_pieces(list, timeout_ms as f64));
        let timer = Delay::from(Duration::from_millis(timeout_ms));
        let answer = match select(std::pin::pin!(opened), std::pin::pin!(timer)).await {
            Either::Left((answer, _)) => answer.map_err(|e| UpstreamError::Unreachable(format!("{e:?}")))?,
            Either::Right(_) => return Err(UpstreamError::TimedOut),
        };
        match answer.as_f64() {
            Some(status) => Ok(Err(status as u16)),
            None => Ok(Ok(Stream(answer.unchecked_into()))),
        }
    }
}

#[wasm_bindgen(module = "/src/adapters/worker/pieces.js")]
extern "C" {
    /// See `pieces.js`: a promise of the stream, or of the first piece's refusing status.
    #[wasm_bindgen(js_name = openPieces)]
    fn open_pieces(pieces: js_sys::Array, timeout_ms: f64) -> js_sys::Promise;
}
