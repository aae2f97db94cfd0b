//! The ports' implementations: the Worker's bindings (wasm32 only) and the in-memory platform
//! the native tests run on.

#[cfg(not(target_arch = "wasm32"))]
pub mod memory;
#[cfg(target_arch = "wasm32")]
mod worker;
