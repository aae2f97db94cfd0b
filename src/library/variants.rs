//! Where an image's variants live in R2, and the size every upload answer links to.

/// Prefix of every variant of an image, for listing and deleting them.
pub fn variant_prefix(id: &str) -> String {
    format!("v/{id}/")
}

/// The preview every upload answer links to (`thumbnail_url`): always allowed, so clients'
/// thumbnails work whatever the guard says.
pub const THUMB_QUERY: &str = "w=256";
