//! [`Http`] over the Workers `fetch` API.

use crate::http::Headers;
use crate::upstream::{Http, OutRequest, OutResponse, UpstreamError};
use worker::{Fetch, Method, RequestInit};

pub struct WorkerFetch;

fn err(e: worker::Error) -> UpstreamError {
    UpstreamError(e.to_string())
}

impl Http for WorkerFetch {
    async fn send(&self, req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError> {
        let headers = worker::Headers::new();
        for (k, v) in &req.headers {
            headers.set(k, v).map_err(err)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(req.method.to_string())).with_headers(headers);
        if !req.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(req.body.as_slice()).into()));
        }
        let request = worker::Request::new_with_init(&req.url, &init).map_err(err)?;
        let mut resp = Fetch::Request(request).send().await.map_err(err)?;
        let headers: Headers = resp.headers().entries().collect();
        let declared = headers.get("content-length").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        if declared > max_bytes {
            return Err(UpstreamError(format!("the answer is larger than {max_bytes} bytes")));
        }
        let body = resp.bytes().await.map_err(err)?;
        if body.len() as u64 > max_bytes {
            return Err(UpstreamError(format!("the answer is larger than {max_bytes} bytes")));
        }
        Ok(OutResponse { status: resp.status_code(), headers, body })
    }
}
