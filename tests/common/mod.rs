//! Helpers the native test files share.
#![allow(dead_code)] // each test file uses its own subset

use imgbed::transform::options::Options;

/// A test image from `tests/images` (see its README).
pub fn corpus(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/images/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("test image {path}: {e}"))
}

/// Transform options from a query string such as `w=800&f=webp`.
pub fn opts(q: &str) -> Options {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    Options::parse(&pairs, &[]).unwrap().unwrap()
}
