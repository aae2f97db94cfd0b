//! Server-side logging: what operators need (storage errors, upstream answers) goes here, never
//! into answers. In the Worker it is the console (`wrangler tail`, Workers Logs); natively stderr.

pub fn error(message: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_error!("{message}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}

/// What routine work did (the cron's repair report).
pub fn info(message: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_log!("{message}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}
