//! `GET/HEAD /file/<id>[.<ext>]`: the stored bytes, cacheable forever, with conditional and
//! range requests. One KV read and at most one R2 read (or, for Telegram, the parts the range
//! needs); never a write. With transform
//! parameters the variant is served instead (see [`transform`]).

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::conditional::{not_modified, range, RangeAnswer};
use crate::http::{http_date, pct_encode, Body, Method, Request, Response};
use crate::library;
use crate::serve::variant;
use crate::transform::options::Options;

pub async fn serve<P: Platform>(app: &App<P>, req: &Request, file: &str) -> Result<Response, ApiError> {
    let id = file.split('.').next().unwrap_or(file);
    let meta = library::load_visible(app, req, id).await?;
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    if let Some(opts) = Options::parse(&pairs, &crate::access::private::LINK_PARAMS)? {
        return variant::serve(app, req, &meta, opts, &pairs).await;
    }
    if let Some(marked) = variant::marked_original(app, req, &meta).await {
        return marked;
    }
    let etag = meta.etag();
    let mut resp = Response::new(200, meta.format.mime(), Vec::new())
        .with_header("etag", etag.clone())
        .with_header("last-modified", http_date(meta.uploaded))
        .with_header("cache-control", crate::library::cache_control(&meta))
        .with_header("accept-ranges", "bytes")
        .with_header("content-disposition", format!("inline; filename*=UTF-8''{}", pct_encode(&meta.name)));
    if not_modified(req, &etag, meta.uploaded) {
        resp.status = 304;
        resp.headers.remove("content-type");
        return Ok(resp);
    }
    let size = meta.bytes;
    let slice = match range(req, size, &etag) {
        RangeAnswer::Full => None,
        RangeAnswer::Partial { offset, len } => {
            resp.status = 206;
            resp.headers.set("content-range", format!("bytes {}-{}/{size}", offset, offset + len - 1));
            Some((offset, len))
        }
        RangeAnswer::Unsatisfiable => {
            let e = ApiError::new(416, "range_not_satisfiable", format!("the file has {size} bytes; the requested range is outside it"));
            return Ok(Response::from(e).with_header("content-range", format!("bytes */{size}")));
        }
    };
    let len = slice.map_or(size, |(_, len)| len);
    resp.headers.set("content-length", len.to_string());
    if req.method == Method::Head {
        return Ok(resp);
    }
    resp.body = Body::Stream(library::read(app, &meta, slice).await?);
    Ok(resp)
}
