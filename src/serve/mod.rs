//! Serving images: originals (`/file/<id>`, with Range and 304) and variants (the HTTP half of
//! transforms).

pub mod file;
pub mod variant;
