//! The one error type every handler returns, and its JSON shape.
//!
//! Every failure a client can see is `{"error":{"code":"…","message":"…"}}` with a status that
//! says whose fault it was: 4xx for the request, 5xx only for us or an upstream service.

use serde_json::json;

/// An error answer: HTTP status, a stable machine-readable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which trying again makes sense (`Retry-After`), for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(413, "file_too_large", format!("the file is larger than the upload limit of {}", human_bytes(limit)))
    }

    /// [`ApiError::too_large`], saying that compression would take a file of `size`.
    pub fn too_large_compressible(limit: u64, size: u64, compress_limit: u64) -> Self {
        let mut e = Self::too_large(limit);
        if size <= compress_limit && limit < compress_limit {
            e.message =
                format!("{}: add compress=true (and max_side=2560) to have it made smaller, for files up to {}", e.message, human_bytes(compress_limit));
        }
        e
    }

    pub fn unsupported_type(message: impl Into<String>) -> Self {
        Self::new(415, "unsupported_type", message)
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(422, "corrupt_image", message)
    }

    /// Our own fault (storage down, bad configuration); the message is safe to show.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    pub fn body(&self) -> Vec<u8> {
        json!({"error": {"code": self.code, "message": self.message}}).to_string().into_bytes()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

/// `5242880` → `5 MiB`, for messages people read.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{} {}", value as u64, UNITS[unit])
    } else {
        format!("{:.1} {}", value, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_the_documented_shape() {
        let e = ApiError::not_found("no image with id abc");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(v["error"]["message"], "no image with id abc");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(5 * 1024 * 1024), "5 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
