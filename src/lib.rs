//! # imgbed
//!
//! A self-hosted image host that runs as one Cloudflare Worker. Folders by layer, each using
//! only the layers below it (`scripts/layers.mjs` checks it):
//!
//! 1. `adapters`: the ports' implementations: the Worker's bindings and the in-memory platform.
//! 2. `router`: the routes as one table.
//! 3. Features: `clients` (upload protocols), `serve` (originals and variants), `random`,
//!    `placeholder`, `gallery` (public albums), `admin` (the console's API), `pages` (the HTML
//!    pages' frame). They do not use one another, except `pages` and `serve`, the HTTP halves
//!    the others' answers are made of.
//! 4. Use cases: `upload` (ingest, batches, review), `library` (an image: record, bytes, index
//!    rows, views, variants, repair), `access` (credentials, guard, tokens, limits),
//!    `services` (Telegram, Replicate).
//! 5. `app`: the application over its platform.
//! 6. `platform`: the ports (storage, outgoing HTTP, images) and their counted and faulty
//!    wrappers.
//! 7. Pure: `index` (the index store's SQL), `transform`, `sniff`, `config`, `http`,
//!    `budget` (every size limit), `base`.

pub mod adapters;
pub mod router;

pub mod admin;
pub mod clients;
pub mod gallery;
pub mod pages;
pub mod placeholder;
pub mod random;
pub mod serve;

pub mod access;
pub mod library;
pub mod services;
pub mod upload;

pub mod app;

pub mod platform;

pub mod base;
pub mod budget;
pub mod config;
pub mod http;
pub mod index;
pub mod sniff;
pub mod transform;
