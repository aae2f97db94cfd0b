//! Conditional and range requests (RFC 9110 §13–14) for served files.

use crate::http::{parse_http_date, Request};

/// Whether the client's cached copy is still good (`If-None-Match`, else `If-Modified-Since`).
pub fn not_modified(req: &Request, etag: &str, modified_ms: u64) -> bool {
    if let Some(inm) = req.header("if-none-match") {
        return etag_matches(inm, etag);
    }
    match req.header("if-modified-since").and_then(parse_http_date) {
        Some(since) => modified_ms / 1000 <= since,
        None => false,
    }
}

/// Whether an `If-None-Match` list names `etag` (weak comparison, as RFC 9110 asks for GET).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    if_none_match.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == bare)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// Send the whole file (no Range, an `If-Range` that no longer matches, or several ranges).
    Full,
    /// Send `len` bytes from `offset`.
    Partial { offset: u64, len: u64 },
    /// 416: nothing of the file is in the range.
    Unsatisfiable,
}

/// Interprets `Range: bytes=…` against a file of `size` bytes. A single range is honoured;
/// multiple ranges get the whole file, which RFC 9110 allows and every client handles.
pub fn range(req: &Request, size: u64, etag: &str) -> RangeAnswer {
    let Some(spec) = req.header("range") else {
        return RangeAnswer::Full;
    };
    if let Some(if_range) = req.header("if-range") {
        if if_range.trim() != etag {
            return RangeAnswer::Full;
        }
    }
    let Some(spec) = spec.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return RangeAnswer::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = match (start.parse::<u64>(), end.parse::<u64>()) {
        (Ok(s), Ok(e)) if s <= e => Some((s, e.min(size.saturating_sub(1)))),
        (Ok(_), Ok(_)) => return RangeAnswer::Full, // syntactically invalid: ignore the header
        (Ok(s), Err(_)) if end.is_empty() => Some((s, size.saturating_sub(1))),
        (Err(_), Ok(n)) if start.is_empty() => {
            if n == 0 {
                return RangeAnswer::Unsatisfiable;
            }
            Some((size.saturating_sub(n), size.saturating_sub(1)))
        }
        _ => return RangeAnswer::Full,
    };
    match parsed {
        Some((s, e)) if s < size && s <= e => RangeAnswer::Partial { offset: s, len: e - s + 1 },
        _ => RangeAnswer::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut r = Request::new(Method::Get, "http://h/file/x").unwrap();
        r.headers = headers.iter().copied().collect();
        r
    }

    #[test]
    fn ranges() {
        let p = |offset, len| RangeAnswer::Partial { offset, len };
        assert_eq!(range(&req(&[]), 100, "\"e\""), RangeAnswer::Full);
        assert_eq!(range(&req(&[("range", "bytes=0-9")]), 100, "\"e\""), p(0, 10));
        assert_eq!(range(&req(&[("range", "bytes=90-")]), 100, "\"e\""), p(90, 10));
        assert_eq!(range(&req(&[("range", "bytes=-5")]), 100, "\"e\""), p(95, 5));
        assert_eq!(range(&req(&[("range", "bytes=50-1000")]), 100, "\"e\""), p(50, 50));
        assert_eq!(range(&req(&[("range", "bytes=-500")]), 100, "\"e\""), p(0, 100));
        assert_eq!(range(&req(&[("range", "bytes=100-")]), 100, "\"e\""), RangeAnswer::Unsatisfiable);
        assert_eq!(range(&req(&[("range", "bytes=0-1,5-6")]), 100, "\"e\""), RangeAnswer::Full);
        assert_eq!(range(&req(&[("range", "bytes=9-1")]), 100, "\"e\""), RangeAnswer::Full);
        assert_eq!(range(&req(&[("range", "bytes=0-9"), ("if-range", "\"old\"")]), 100, "\"e\""), RangeAnswer::Full);
    }

    #[test]
    fn validators() {
        assert!(not_modified(&req(&[("if-none-match", "\"a\", \"e\"")]), "\"e\"", 0));
        assert!(not_modified(&req(&[("if-none-match", "W/\"e\"")]), "\"e\"", 0));
        assert!(!not_modified(&req(&[("if-none-match", "\"a\"")]), "\"e\"", 0));
        let ms = 1_700_000_000_000;
        assert!(not_modified(&req(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")]), "\"e\"", ms));
        assert!(!not_modified(&req(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")]), "\"e\"", ms));
    }
}
