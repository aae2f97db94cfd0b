//! Privacy: removes identifying metadata from JPEG files without touching the pixels.
//!
//! Phones write GPS position, device serials and owner names into EXIF, XMP and IPTC blocks.
//! Those segments are dropped; the colour profile (APP2 ICC), JFIF and Adobe markers stay, and
//! the EXIF orientation is written back as a minimal EXIF block so the photo still shows upright.
//! The compressed image data is copied byte for byte.

use crate::sniff::jpeg_segments;

/// Segments that carry metadata about the photo or its author rather than about decoding it.
fn is_identifying(marker: u8, payload: &[u8]) -> bool {
    match marker {
        0xE1 => payload.starts_with(b"Exif\0") || payload.starts_with(b"http://ns.adobe.com/xap/") || payload.starts_with(b"http://ns.adobe.com/xmp/"),
        0xED => true, // APP13: Photoshop IRB / IPTC (captions, authors, locations)
        0xFE => true, // COM: free-text comments, often camera or software serials
        _ => false,
    }
}

/// Removes identifying segments from a JPEG in place: only the header (everything before the
/// image data) is rewritten, and the image data moves up without a second copy of the file.
/// `orientation` (1–8) is kept as the only EXIF tag when it is not 1. False when there was
/// nothing to strip.
pub fn strip_jpeg_in_place(jpeg: &mut Vec<u8>, orientation: u16) -> bool {
    let Some((header, end)) = stripped_header(jpeg, orientation) else {
        return false;
    };
    jpeg.splice(..end, header);
    true
}

/// The header without identifying segments, and where the original's header ends.
fn stripped_header(jpeg: &[u8], orientation: u16) -> Option<(Vec<u8>, usize)> {
    let segs = jpeg_segments(jpeg).ok()?;
    if !segs.iter().any(|s| is_identifying(s.marker, &jpeg[s.payload.clone()])) {
        return None;
    }
    let mut out = Vec::with_capacity(segs.last().map_or(2, |s| s.end));
    out.extend_from_slice(&jpeg[..2]);
    let mut orientation_written = orientation <= 1;
    let mut copied_to = 2;
    for s in &segs {
        // Keep JFIF (APP0) first, as its spec requires; put the orientation right after it.
        if !orientation_written && s.marker != 0xE0 {
            out.extend_from_slice(&orientation_segment(orientation));
            orientation_written = true;
        }
        if !is_identifying(s.marker, &jpeg[s.payload.clone()]) {
            out.extend_from_slice(&jpeg[s.start..s.end]);
        }
        copied_to = s.end;
    }
    Some((out, copied_to))
}

/// An APP1 segment holding a big-endian TIFF with a single IFD0 entry: Orientation.
fn orientation_segment(orientation: u16) -> Vec<u8> {
    let mut seg = vec![0xFF, 0xE1, 0x00, 0x22];
    seg.extend_from_slice(b"Exif\0\0MM\0*\0\0\0\x08");
    seg.extend_from_slice(&[0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    seg.extend_from_slice(&orientation.to_be_bytes());
    seg.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    seg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff::{sniff, tests::tiny_jpeg};

    fn strip_jpeg(jpeg: &[u8], orientation: u16) -> Option<Vec<u8>> {
        let mut out = jpeg.to_vec();
        strip_jpeg_in_place(&mut out, orientation).then_some(out)
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn removes_gps_and_keeps_orientation() {
        let j = tiny_jpeg(6);
        assert!(contains(&j, b"GPS-SECRET"));
        let out = strip_jpeg(&j, 6).unwrap();
        assert!(!contains(&out, b"GPS-SECRET"));
        let s = sniff(&out).unwrap();
        assert_eq!((s.exif_orientation, s.width, s.height), (6, 1, 2));
        // The entropy-coded data is untouched.
        assert!(out.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]));
    }

    #[test]
    fn upright_photos_lose_exif_entirely() {
        let out = strip_jpeg(&tiny_jpeg(1), 1).unwrap();
        assert!(!contains(&out, b"Exif"));
        assert_eq!(sniff(&out).unwrap().exif_orientation, 1);
    }

    #[test]
    fn clean_files_are_left_alone() {
        let out = strip_jpeg(&tiny_jpeg(1), 1).unwrap();
        assert_eq!(strip_jpeg(&out, 1), None);
    }
}
