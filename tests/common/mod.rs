//! Helpers the native test files share.
#![allow(dead_code)] // each test file uses its own subset

use imgbed::transform::options::Options;

/// `../shared/corpus` beside the repository, or `IMGBED_CORPUS`.
pub fn corpus(name: &str) -> Vec<u8> {
    let dir = std::env::var("IMGBED_CORPUS").unwrap_or_else(|_| format!("{}/../shared/corpus", env!("CARGO_MANIFEST_DIR")));
    std::fs::read(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("corpus file {dir}/{name}: {e}"))
}

/// Transform options from a query string such as `w=800&f=webp`.
pub fn opts(q: &str) -> Options {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    Options::parse(&pairs, &[]).unwrap().unwrap()
}
