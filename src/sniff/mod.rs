//! What an uploaded file really is, read from its bytes.
//!
//! The client's `Content-Type` and file name are never trusted. This module recognises the
//! formats imgbed stores, reads the pixel size and EXIF orientation from the headers, and walks
//! the container structure to the end so that a truncated or corrupt file is refused at upload
//! instead of being served broken forever. Nothing here decodes pixels: a 24 MP photo costs a
//! few microseconds and no memory.

pub mod exif;

use crate::base::error::ApiError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
    Bmp,
    Ico,
}

impl Format {
    pub const ALL: [Format; 7] = [Format::Jpeg, Format::Png, Format::Gif, Format::Webp, Format::Avif, Format::Bmp, Format::Ico];

    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::Avif => "avif",
            Format::Bmp => "bmp",
            Format::Ico => "ico",
        }
    }

    /// A format as settings name it: its extension, or `jpeg`.
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name.to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.ext() == name || (*f == Format::Jpeg && name == "jpeg"))
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::Webp => "image/webp",
            Format::Avif => "image/avif",
            Format::Bmp => "image/bmp",
            Format::Ico => "image/x-icon",
        }
    }

    /// Recognises a format by its magic bytes alone.
    pub fn detect(b: &[u8]) -> Option<Format> {
        if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
            Some(Format::Gif)
        } else if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
            Some(Format::Webp)
        } else if is_avif(b) {
            Some(Format::Avif)
        } else if b.len() >= 18 && &b[0..2] == b"BM" && matches!(le32(b, 14), Some(12 | 40 | 52 | 56 | 108 | 124)) {
            Some(Format::Bmp)
        } else if b.len() >= 6 && b[0..4] == [0, 0, 1, 0] && le16(b, 4).is_some_and(|n| n > 0) {
            Some(Format::Ico)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    Landscape,
    Portrait,
    Square,
}

impl Orientation {
    /// Within 2% of square counts as square: a 1080×1074 crop is still a square to a person.
    pub fn of(width: u32, height: u32) -> Orientation {
        let (w, h) = (width as f64, height as f64);
        if (w - h).abs() <= 0.02 * w.max(h) {
            Orientation::Square
        } else if w > h {
            Orientation::Landscape
        } else {
            Orientation::Portrait
        }
    }

    pub fn parse(s: &str) -> Option<Orientation> {
        match s {
            "landscape" => Some(Orientation::Landscape),
            "portrait" => Some(Orientation::Portrait),
            "square" => Some(Orientation::Square),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Orientation::Landscape => "landscape",
            Orientation::Portrait => "portrait",
            Orientation::Square => "square",
        }
    }
}

/// What the bytes told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub format: Format,
    /// Displayed size: EXIF orientations 5–8 swap the stored width and height.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1–8 (1 when absent).
    pub exif_orientation: u16,
    /// More than one frame (animated GIF, PNG or WebP).
    pub animated: bool,
    /// Frames an animation plays (1 for a still image).
    pub frames: u32,
}

impl Sniffed {
    pub fn orientation(&self) -> Orientation {
        Orientation::of(self.width, self.height)
    }
}

/// Identifies and validates an image: 415 when it is not one of ours, 422 when it is broken.
pub fn sniff(bytes: &[u8]) -> Result<Sniffed, ApiError> {
    let format = Format::detect(bytes).ok_or_else(|| ApiError::unsupported_type("not an image imgbed accepts: JPEG, PNG, GIF, WebP, AVIF, BMP or ICO"))?;
    let broken = |why: &str| ApiError::corrupt(format!("the {} file is damaged: {why}", format.ext().to_uppercase()));
    let (w, h) = match format {
        // imagesize reads top-down (negative height) and OS/2 bitmaps wrongly.
        Format::Bmp => bmp_size(bytes).ok_or_else(|| broken("its header cannot be read"))?,
        _ => {
            let size = imagesize::blob_size(bytes).map_err(|_| broken("its header cannot be read"))?;
            (u32::try_from(size.width).unwrap_or(0), u32::try_from(size.height).unwrap_or(0))
        }
    };
    if w == 0 || h == 0 {
        return Err(broken("it says it has no pixels"));
    }
    let mut frames = 1;
    let mut exif_orientation = 1;
    match format {
        Format::Jpeg => {
            let info = walk_jpeg(bytes).map_err(broken)?;
            exif_orientation = info.orientation.unwrap_or(1);
        }
        Format::Png => {
            let info = walk_png(bytes).map_err(broken)?;
            frames = info.frames;
            exif_orientation = info.orientation.unwrap_or(1);
        }
        Format::Gif => frames = walk_gif(bytes).map_err(broken)?,
        Format::Webp => {
            let info = walk_webp(bytes).map_err(broken)?;
            frames = info.frames;
            exif_orientation = info.orientation.unwrap_or(1);
        }
        Format::Avif => walk_boxes(bytes).map_err(broken)?,
        Format::Bmp => check_bmp(bytes).map_err(broken)?,
        Format::Ico => check_ico(bytes).map_err(broken)?,
    }
    if !(1..=8).contains(&exif_orientation) {
        exif_orientation = 1;
    }
    let (width, height) = if exif_orientation >= 5 { (h, w) } else { (w, h) };
    let frames = frames.max(1);
    Ok(Sniffed { format, width, height, exif_orientation, animated: frames > 1, frames })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn is_avif(b: &[u8]) -> bool {
    if b.len() < 16 || &b[4..8] != b"ftyp" {
        return false;
    }
    let size = (be32(b, 0).unwrap_or(0) as usize).min(b.len());
    // Major brand, then compatible brands, four bytes each (skipping the minor version).
    std::iter::once(&b[8..12]).chain(b.get(16..size).unwrap_or(&[]).chunks_exact(4)).any(|brand| brand == b"avif" || brand == b"avis")
}

/// One JPEG segment before the image data: marker byte and the span of its payload.
pub(crate) struct Segment {
    pub marker: u8,
    /// Offset of the 0xFF that starts the segment.
    pub start: usize,
    /// Offset just past the segment.
    pub end: usize,
    pub payload: std::ops::Range<usize>,
}

/// The segments from SOI up to and including SOS, or why they cannot be read.
pub(crate) fn jpeg_segments(b: &[u8]) -> Result<Vec<Segment>, &'static str> {
    let mut segs = Vec::new();
    let mut at = 2; // after SOI
    loop {
        // Markers may be padded with extra 0xFF bytes.
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if b.get(at) != Some(&0xFF) {
            return Err("a marker is missing where one should be");
        }
        let marker = *b.get(at + 1).ok_or("it ends inside its header")?;
        let start = at;
        if (0xD0..=0xD8).contains(&marker) || marker == 0x01 {
            at += 2;
            continue;
        }
        if marker == 0xD9 {
            return Err("it ends before any image data");
        }
        let len = be16(b, at + 2).ok_or("it ends inside its header")? as usize;
        if len < 2 || at + 2 + len > b.len() {
            return Err("it ends inside its header");
        }
        let end = at + 2 + len;
        segs.push(Segment { marker, start, end, payload: at + 4..end });
        at = end;
        if marker == 0xDA {
            return Ok(segs);
        }
    }
}

struct ImageInfo {
    orientation: Option<u16>,
    frames: u32,
}

fn walk_jpeg(b: &[u8]) -> Result<ImageInfo, &'static str> {
    let segs = jpeg_segments(b)?;
    if !segs.iter().any(|s| matches!(s.marker, 0xC0..=0xCF if s.marker != 0xC4 && s.marker != 0xC8 && s.marker != 0xCC)) {
        return Err("it has no frame header");
    }
    let sos_end = segs.last().map(|s| s.end).unwrap_or(b.len());
    // Entropy-coded data never contains FF D9, so its presence after SOS is the end of image.
    // Looked for from the end, where it is: a forward scan costs milliseconds of wasm per MB.
    if memchr::memmem::rfind(&b[sos_end..], &[0xFF, 0xD9]).is_none() {
        return Err("it is cut off: the end-of-image marker is missing");
    }
    let orientation = segs.iter().filter(|s| s.marker == 0xE1).find_map(|s| b[s.payload.clone()].strip_prefix(b"Exif\0\0").and_then(tiff_orientation));
    Ok(ImageInfo { orientation, frames: 1 })
}

/// Reads tag 0x0112 (Orientation) from IFD0 of a TIFF block.
pub(crate) fn tiff_orientation(t: &[u8]) -> Option<u16> {
    let read16 = |at: usize| {
        if t.starts_with(b"II") {
            le16(t, at)
        } else {
            be16(t, at)
        }
    };
    let read32 = |at: usize| {
        if t.starts_with(b"II") {
            le32(t, at)
        } else {
            be32(t, at)
        }
    };
    if !(t.starts_with(b"II*\0") || t.starts_with(b"MM\0*")) {
        return None;
    }
    let ifd = read32(4)? as usize;
    let count = read16(ifd)? as usize;
    (0..count.min(512)).find_map(|i| {
        let entry = ifd + 2 + i * 12;
        (read16(entry)? == 0x0112).then(|| read16(entry + 8)).flatten()
    })
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (n, slot) in t.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    !data.iter().fold(!0u32, |c, &byte| table[((c ^ byte as u32) & 0xFF) as usize] ^ (c >> 8))
}

fn walk_png(b: &[u8]) -> Result<ImageInfo, &'static str> {
    let mut at = 8;
    let mut info = ImageInfo { orientation: None, frames: 1 };
    let mut first = true;
    loop {
        let len = be32(b, at).ok_or("it is cut off")? as usize;
        let kind = b.get(at + 4..at + 8).ok_or("it is cut off")?;
        let data_end = at.checked_add(8 + len).ok_or("a chunk length is impossible")?;
        let crc = be32(b, data_end).ok_or("it is cut off")?;
        if crc32(&b[at + 4..data_end]) != crc {
            return Err("a chunk checksum does not match");
        }
        if first && kind != b"IHDR" {
            return Err("it does not start with a header chunk");
        }
        first = false;
        match kind {
            b"IEND" => return Ok(info),
            b"acTL" => info.frames = be32(b, at + 8).unwrap_or(1),
            b"eXIf" => info.orientation = tiff_orientation(&b[at + 8..data_end]),
            _ => {}
        }
        at = data_end + 4;
    }
}

/// Walks GIF blocks to the trailer; returns the number of frames.
fn walk_gif(b: &[u8]) -> Result<u32, &'static str> {
    const CUT: &str = "it is cut off before its trailer";
    let flags = *b.get(10).ok_or(CUT)?;
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 << ((flags & 7) + 1);
    }
    let skip_sub_blocks = |mut at: usize| -> Result<usize, &'static str> {
        loop {
            let n = *b.get(at).ok_or(CUT)? as usize;
            at += 1 + n;
            if n == 0 {
                return Ok(at);
            }
        }
    };
    let mut frames = 0;
    loop {
        match *b.get(at).ok_or(CUT)? {
            0x3B => return Ok(frames),
            0x21 => at = skip_sub_blocks(at + 2)?,
            0x2C => {
                let lflags = *b.get(at + 9).ok_or(CUT)?;
                at += 10;
                if lflags & 0x80 != 0 {
                    at += 3 << ((lflags & 7) + 1);
                }
                at = skip_sub_blocks(at + 1)?; // past the LZW code size byte
                frames += 1;
            }
            _ => return Err("it has an unknown block"),
        }
    }
}

fn walk_webp(b: &[u8]) -> Result<ImageInfo, &'static str> {
    let riff_end = (le32(b, 4).ok_or("it is cut off")? as usize).checked_add(8).ok_or("its size is impossible")?;
    if riff_end > b.len() {
        return Err("it is cut off");
    }
    let mut info = ImageInfo { orientation: None, frames: 1 };
    let mut at = 12;
    let mut has_image = false;
    let mut anmf = 0;
    while at + 8 <= riff_end {
        let kind = &b[at..at + 4];
        let len = le32(b, at + 4).ok_or("it is cut off")? as usize;
        let end = (at + 8).checked_add(len).ok_or("a chunk length is impossible")?;
        if end > riff_end {
            return Err("it is cut off inside a chunk");
        }
        match kind {
            b"VP8 " | b"VP8L" => has_image = true,
            b"ANMF" => {
                has_image = true;
                anmf += 1;
            }
            b"EXIF" => {
                let exif = &b[at + 8..end];
                info.orientation = tiff_orientation(exif.strip_prefix(b"Exif\0\0").unwrap_or(exif));
            }
            _ => {}
        }
        at = end + (len & 1);
    }
    if !has_image {
        return Err("it has no image data");
    }
    info.frames = anmf.max(1);
    Ok(info)
}

/// Checks that ISO-BMFF boxes tile the file exactly and that the AVIF parts are there.
fn walk_boxes(b: &[u8]) -> Result<(), &'static str> {
    let mut at = 0;
    let (mut meta, mut mdat) = (false, false);
    while at < b.len() {
        let size32 = be32(b, at).ok_or("it is cut off inside a box header")? as u64;
        let kind = b.get(at + 4..at + 8).ok_or("it is cut off inside a box header")?;
        let size = match size32 {
            0 => (b.len() - at) as u64,
            1 => u64::from(be32(b, at + 8).ok_or("it is cut off")?) << 32 | u64::from(be32(b, at + 12).ok_or("it is cut off")?),
            n => n,
        };
        if size < 8 || at as u64 + size > b.len() as u64 {
            return Err("it is cut off inside a box");
        }
        meta |= kind == b"meta";
        mdat |= kind == b"mdat";
        at += size as usize;
    }
    if !(meta && mdat) {
        return Err("it lacks its metadata or image data box");
    }
    Ok(())
}

/// Width and height of a BMP: 16-bit fields in OS/2 1.x headers, signed 32-bit ones (negative
/// height for top-down rows) in every later header.
fn bmp_size(b: &[u8]) -> Option<(u32, u32)> {
    if le32(b, 14)? == 12 {
        return Some((le16(b, 18)? as u32, le16(b, 20)? as u32));
    }
    let width = le32(b, 18)? as i32;
    let height = le32(b, 22)? as i32;
    (width > 0).then(|| (width as u32, height.unsigned_abs()))
}

fn check_bmp(b: &[u8]) -> Result<(), &'static str> {
    let offset = le32(b, 10).ok_or("it is cut off")? as u64;
    let header = le32(b, 14).ok_or("it is cut off")?;
    if header == 12 {
        return if offset <= b.len() as u64 { Ok(()) } else { Err("it is cut off") };
    }
    let width = le32(b, 18).ok_or("it is cut off")? as i32;
    let height = le32(b, 22).ok_or("it is cut off")? as i32;
    let bits = le16(b, 28).ok_or("it is cut off")? as u64;
    let compression = le32(b, 30).ok_or("it is cut off")?;
    let needed = if compression == 0 || compression == 3 {
        let row = (bits * width.unsigned_abs() as u64).div_ceil(32) * 4;
        offset + row * height.unsigned_abs() as u64
    } else {
        offset
    };
    if needed > b.len() as u64 {
        return Err("it is cut off before the end of its pixels");
    }
    Ok(())
}

fn check_ico(b: &[u8]) -> Result<(), &'static str> {
    let count = le16(b, 4).ok_or("it is cut off")? as usize;
    for i in 0..count {
        let entry = 6 + i * 16;
        let size = le32(b, entry + 8).ok_or("it is cut off in its directory")? as u64;
        let offset = le32(b, entry + 12).ok_or("it is cut off in its directory")? as u64;
        if offset + size > b.len() as u64 {
            return Err("an icon points past the end of the file");
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid 1×1 PNG (grey, 8-bit), built so tests need no files.
    pub fn tiny_png() -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]);
        chunk(&mut png, b"IEND", &[]);
        png
    }

    /// A 2×1 baseline JPEG with an EXIF block carrying Orientation=`orientation` and a GPS IFD.
    pub fn tiny_jpeg(orientation: u16) -> Vec<u8> {
        let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]); // GPS IFD pointer
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(b"\0\0GPS-SECRET-48.8584N");
        let mut j = vec![0xFF, 0xD8];
        j.extend_from_slice(&[0xFF, 0xE1]);
        j.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
        j.extend_from_slice(b"Exif\0\0");
        j.extend_from_slice(&tiff);
        // SOF0: 8-bit, height 1, width 2, one component.
        j.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 2, 1, 1, 0x11, 0]);
        j.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0]);
        j.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn detects_formats_by_magic_only() {
        assert_eq!(Format::detect(&tiny_png()), Some(Format::Png));
        assert_eq!(Format::detect(&tiny_jpeg(1)), Some(Format::Jpeg));
        assert_eq!(Format::detect(b"GIF89a......"), Some(Format::Gif));
        assert_eq!(Format::detect(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(Format::detect(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1"), Some(Format::Avif));
        assert_eq!(Format::detect(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), None);
        assert_eq!(Format::detect(b"<svg xmlns=...>"), None);
        assert_eq!(Format::detect(b""), None);
    }

    #[test]
    fn png_is_read_and_truncation_refused() {
        let png = tiny_png();
        let s = sniff(&png).unwrap();
        assert_eq!((s.format, s.width, s.height), (Format::Png, 1, 1));
        let cut = sniff(&png[..png.len() - 6]).unwrap_err();
        assert_eq!(cut.status, 422);
        let mut flipped = png.clone();
        flipped[40] ^= 0x55;
        assert_eq!(sniff(&flipped).unwrap_err().status, 422);
    }

    #[test]
    fn jpeg_orientation_swaps_the_displayed_size() {
        let s = sniff(&tiny_jpeg(1)).unwrap();
        assert_eq!((s.width, s.height, s.exif_orientation), (2, 1, 1));
        assert_eq!(s.orientation(), Orientation::Landscape);
        let s = sniff(&tiny_jpeg(6)).unwrap();
        assert_eq!((s.width, s.height, s.exif_orientation), (1, 2, 6));
        assert_eq!(s.orientation(), Orientation::Portrait);
    }

    #[test]
    fn truncated_jpeg_is_refused() {
        let j = tiny_jpeg(1);
        let e = sniff(&j[..j.len() - 2]).unwrap_err();
        assert_eq!((e.status, e.code), (422, "corrupt_image"));
        assert!(e.message.contains("cut off"), "{}", e.message);
    }

    #[test]
    fn bmp_sizes_are_read_for_every_header() {
        fn bmp(header: u32, w: i32, h: i32) -> Vec<u8> {
            let mut b = b"BM".to_vec();
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&(14 + header).to_le_bytes());
            b.extend_from_slice(&header.to_le_bytes());
            if header == 12 {
                b.extend_from_slice(&(w as u16).to_le_bytes());
                b.extend_from_slice(&(h as u16).to_le_bytes());
                b.extend_from_slice(&[1, 0, 24, 0]);
            } else {
                b.extend_from_slice(&w.to_le_bytes());
                b.extend_from_slice(&h.to_le_bytes());
                b.extend_from_slice(&[1, 0, 24, 0]);
                b.resize(14 + header as usize, 0);
            }
            let row = (w as usize * 3).div_ceil(4) * 4;
            b.resize(b.len() + row * h.unsigned_abs() as usize, 0x80);
            b
        }
        for (header, w, h) in [(40, 127, -64), (40, 127, 64), (12, 127, 64), (124, 3, -2)] {
            let s = sniff(&bmp(header, w, h)).unwrap();
            assert_eq!((s.width, s.height), (127.min(w as u32), h.unsigned_abs()), "header {header}");
        }
    }

    #[test]
    fn text_is_not_an_image() {
        let e = sniff(b"hello, I am a text file").unwrap_err();
        assert_eq!(e.status, 415);
    }

    #[test]
    fn orientation_classes() {
        assert_eq!(Orientation::of(1920, 1080), Orientation::Landscape);
        assert_eq!(Orientation::of(1080, 1920), Orientation::Portrait);
        assert_eq!(Orientation::of(1080, 1074), Orientation::Square);
    }
}
