//! The pure basics every layer uses: the error shape, ids and crypto helpers, dates, logging.

pub mod dates;
pub mod digest;
pub mod error;
pub mod ids;
pub mod log;
#[cfg(target_arch = "wasm32")]
pub mod pour;
