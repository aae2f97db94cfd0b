//! Request handlers: each turns a [`Request`](crate::http::Request) into a response shape over
//! the shared core (`ingest`, `library`).

pub mod admin;
pub mod chevereto;
pub mod clients;
pub mod delete;
pub mod file;
pub mod images;
pub mod lsky;
pub mod picgo;
pub mod placeholder;
pub mod random;
pub mod smms;
pub mod transform;
pub mod upload;
