//! # imgbed
//!
//! A self-hosted image host that runs as one Cloudflare Worker.
//!
//! The crate is split so that nearly everything runs and is tested natively:
//!
//! - **Pure core** — [`sniff`] (what a file is), [`exif`] (privacy), [`multipart`],
//!   [`ingest`] (the upload pipeline), [`auth`], [`ids`], [`meta`], [`links`],
//!   [`conditional`] (304/206), [`config`], [`error`] (the JSON error shape), [`http`].
//! - **Application** — [`app`], [`library`] (storing images), [`handlers`], [`router`], written
//!   against the [`storage`] traits so they run over in-memory fakes in tests and over R2 and KV
//!   in the Worker.
//! - **Worker glue** — `glue` (wasm32 only): the `#[event(fetch)]` entrypoint and the trait
//!   implementations over the `IMAGES` (R2) and `META` (KV) bindings.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod conditional;
pub mod config;
pub mod dates;
pub mod digest;
pub mod error;
pub mod exif;
pub mod faults;
pub mod guard;
pub mod handlers;
pub mod hotlink;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod library;
pub mod limits;
pub mod links;
pub mod log;
#[cfg(not(target_arch = "wasm32"))]
pub mod memory;
pub mod meta;
pub mod moderation;
pub mod multipart;
pub mod pages;
pub mod placeholder;
pub mod random;
pub mod render;
pub mod repair;
pub mod replicate;
pub mod router;
pub mod security;
pub mod sniff;
pub mod storage;
pub mod telegram;
pub mod tokens;
pub mod transform;
pub mod upstream;

#[cfg(target_arch = "wasm32")]
mod glue;
