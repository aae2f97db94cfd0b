//! Every size limit imgbed enforces, in one place.
//!
//! A Worker isolate has 128 MB, shared by every request it serves at that moment. Each check
//! here runs *before* the memory it guards is allocated: request bodies before they are read,
//! uploads before they are stored, and every pixel buffer of a transform (decode, rotate,
//! resize, crop or pad canvas, blur, encode) before the first of them exists. Callers ask;
//! nothing else in the crate keeps its own size constant.

use crate::base::error::ApiError;

/// The most bytes of pixel buffers one transform may hold at once. With the Worker's own
/// ~10 MB, the request body and the source and output files, a request stays near 100 MB even
/// at this limit (measured in `tests/memory.rs`).
pub const PIXEL_BUDGET_BYTES: u64 = 72 << 20;

/// The largest image upload accepts, per side and in total (Cloudflare Images' limits). Bigger
/// photos exist, but nothing a browser shows needs them and every transform would refuse them.
pub const MAX_UPLOAD_SIDE: u32 = 12_000;
pub const MAX_UPLOAD_PIXELS: u64 = 100_000_000;

/// The largest `w`/`h` a transform may name.
pub const MAX_TRANSFORM_SIDE: u32 = 8192;

/// The most `MAX_UPLOAD_BYTES` may be set to: one file, plus its copy while it is checked,
/// plus the body it came in must fit the isolate.
pub const MAX_UPLOAD_BYTES_CEILING: u64 = 25 << 20;

/// The largest file taken in to be compressed (`compress=true`): the result must then fit
/// `MAX_UPLOAD_BYTES`. Compression is for exactly the files over that limit.
pub const MAX_COMPRESS_INPUT_BYTES: u64 = MAX_UPLOAD_BYTES_CEILING;

/// The most a multipart batch may carry in total, whatever the per-file limit.
pub const MAX_BATCH_BODY_BYTES: u64 = 30 << 20;

/// The most files one request may carry.
pub const MAX_FILES_PER_REQUEST: usize = 20;

/// Labels (albums, tags): characters per label, tags per image.
pub const MAX_LABEL_CHARS: usize = 64;
pub const MAX_TAGS: usize = 20;

/// Upload by URL: redirects followed by hand, and the whole fetch's time limit.
pub const MAX_FETCH_REDIRECTS: usize = 3;
pub const FETCH_TIMEOUT_MS: u64 = 10_000;

/// Upper bound for a whole request body, checked while it is read.
pub fn max_body_bytes(max_upload_bytes: u64) -> u64 {
    // Base64 and multipart framing add about a third to one file.
    let one_file = max_upload_bytes.saturating_mul(4) / 3 + (64 << 10);
    one_file.max(MAX_BATCH_BODY_BYTES)
}

/// 413 for a body over [`max_body_bytes`].
pub fn body_too_large(limit: u64) -> ApiError {
    ApiError::new(413, "body_too_large", format!("the request body is larger than {}: send fewer or smaller files", crate::base::error::human_bytes(limit)))
}

/// Refuses at upload what no transform could ever open and no page needs.
pub fn check_upload_size(width: u32, height: u32) -> Result<(), ApiError> {
    if width > MAX_UPLOAD_SIDE || height > MAX_UPLOAD_SIDE || width as u64 * height as u64 > MAX_UPLOAD_PIXELS {
        return Err(ApiError::new(
            422,
            "too_many_pixels",
            format!(
                "the image is {width}×{height}: imgbed takes images up to {MAX_UPLOAD_SIDE} pixels a side and {} megapixels",
                MAX_UPLOAD_PIXELS / 1_000_000
            ),
        ));
    }
    Ok(())
}

/// The source itself cannot be decoded within the budget; its transforms serve the original.
pub const SOURCE_TOO_LARGE: &str = "source_too_large";

fn mib(n: u64) -> u64 {
    n.div_ceil(1 << 20)
}

/// Checks what decoding alone needs (pixels at the chosen scale plus the decoder's own
/// buffers, such as a progressive JPEG's full-size coefficients).
pub fn check_decode(width: u32, height: u32, bytes: u64) -> Result<(), ApiError> {
    if bytes > PIXEL_BUDGET_BYTES {
        return Err(ApiError::new(
            422,
            SOURCE_TOO_LARGE,
            format!("decoding this {width}×{height} image needs about {} MiB, more than the {} MiB a transform may use", mib(bytes), mib(PIXEL_BUDGET_BYTES)),
        ));
    }
    Ok(())
}

/// The buffers a transform will hold, described before any of them exists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pipeline {
    /// Pixels as decoded, and what the decoder itself holds besides them.
    pub decoded: (u32, u32),
    pub decoder_bytes: u64,
    /// Bytes per pixel from the decoder on (3 or 4; 1 for grey).
    pub channels: u64,
    /// EXIF orientation or `rotate` turns the image by 90° (a full copy).
    pub turned: bool,
    pub resize: (u32, u32),
    pub crop: Option<(u32, u32)>,
    /// `gravity=auto` scans a grey copy of the resized image.
    pub auto_gravity: bool,
    pub pad: Option<(u32, u32)>,
    /// Blur keeps two working copies of the output.
    pub blurred: bool,
    /// Sharpening (an unsharp mask) works in 32-bit floats.
    pub sharpened: bool,
    /// Bytes per output pixel the encoder keeps besides the pixels.
    pub encoder: u64,
}

/// Bytes the unsharp mask holds per output sample (measured in `tests/memory.rs`).
const SHARPEN_BYTES_PER_SAMPLE: u64 = 10;

fn px((w, h): (u32, u32)) -> u64 {
    w as u64 * h as u64
}

impl Pipeline {
    /// The largest number of bytes alive at any step, from decode to encode.
    pub fn peak_bytes(&self) -> u64 {
        let c = self.channels;
        let decoded = px(self.decoded) * c;
        let resized = px(self.resize) * c;
        let mut steps = vec![decoded + self.decoder_bytes];
        if self.turned {
            steps.push(2 * decoded);
        }
        // Resampling reads the source while it writes the destination, through an
        // intermediate image from its first pass (one side resized, the other not yet).
        if self.resize != self.decoded {
            let (dw, dh) = if self.turned { (self.decoded.1, self.decoded.0) } else { self.decoded };
            let intermediate = px((self.resize.0, dh)).max(px((dw, self.resize.1))) * c;
            steps.push(decoded + intermediate + resized);
        }
        let mut out = resized;
        let mut out_px = px(self.resize);
        if let Some(c_size) = self.crop {
            let grey = if self.auto_gravity { px(self.resize) + 8 * self.resize.0.max(self.resize.1) as u64 } else { 0 };
            steps.push(resized + px(c_size) * c + grey);
            out = px(c_size) * c;
            out_px = px(c_size);
        }
        if let Some(p) = self.pad {
            // The canvas is RGBA; the image is converted to RGBA to be laid on it.
            steps.push(out + px(self.resize) * 4 + px(p) * 4 + px(p) * 3);
            out = px(p) * 4;
            out_px = px(p);
        }
        if self.blurred {
            steps.push(3 * out);
        }
        if self.sharpened {
            steps.push(out + out_px * c * SHARPEN_BYTES_PER_SAMPLE);
        }
        steps.push(out + out_px * self.encoder);
        steps.into_iter().max().unwrap_or(0)
    }

    /// 422 `too_many_pixels` when the transform asked for would not fit the budget.
    pub fn check(&self) -> Result<(), ApiError> {
        let peak = self.peak_bytes();
        if peak > PIXEL_BUDGET_BYTES {
            let out = self.pad.or(self.crop).unwrap_or(self.resize);
            return Err(ApiError::new(
                422,
                "too_many_pixels",
                format!(
                    "a {}×{} result needs about {} MiB, more than the {} MiB a transform may use: ask for a smaller size",
                    out.0,
                    out.1,
                    mib(peak),
                    mib(PIXEL_BUDGET_BYTES)
                ),
            ));
        }
        Ok(())
    }
}

/// What a JPEG's frame header says, read without the decoder (which panics on some layouts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegFrame {
    pub width: u32,
    pub height: u32,
    pub progressive: bool,
    /// Horizontal and vertical sampling factor of each component.
    pub sampling: Vec<(u8, u8)>,
}

impl JpegFrame {
    /// Bytes of the coefficient planes a progressive decode allocates at full size, before
    /// any scaling applies (jpeg-decoder keeps 64 `i16` per 8×8 block of every component).
    pub fn coefficient_bytes(&self) -> u64 {
        if !self.progressive {
            return 0;
        }
        let hmax = self.sampling.iter().map(|s| s.0.max(1)).max().unwrap_or(1) as u64;
        let vmax = self.sampling.iter().map(|s| s.1.max(1)).max().unwrap_or(1) as u64;
        let mcus_x = (self.width as u64).div_ceil(8 * hmax);
        let mcus_y = (self.height as u64).div_ceil(8 * vmax);
        self.sampling.iter().map(|&(h, v)| mcus_x * h.max(1) as u64 * mcus_y * v.max(1) as u64 * 128).sum()
    }

    /// Reads the SOF segment of a JPEG; `None` when it has none or one the decoder cannot take
    /// (component counts other than 1, 3 and 4, precisions other than 8, zero sampling).
    pub fn read(b: &[u8]) -> Option<JpegFrame> {
        let segs = crate::sniff::jpeg_segments(b).ok()?;
        let sof = segs.iter().find(|s| matches!(s.marker, 0xC0..=0xC2))?;
        let p = &b[sof.payload.clone()];
        let precision = *p.first()?;
        let height = u16::from_be_bytes([*p.get(1)?, *p.get(2)?]) as u32;
        let width = u16::from_be_bytes([*p.get(3)?, *p.get(4)?]) as u32;
        let count = *p.get(5)? as usize;
        if precision != 8 || !matches!(count, 1 | 3 | 4) || p.len() < 6 + 3 * count {
            return None;
        }
        let sampling: Vec<(u8, u8)> = (0..count).map(|i| (p[7 + 3 * i] >> 4, p[7 + 3 * i] & 15)).collect();
        if sampling.iter().any(|&(h, v)| !(1..=4).contains(&h) || !(1..=4).contains(&v)) {
            return None;
        }
        Some(JpegFrame { width, height, progressive: sof.marker == 0xC2, sampling })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(decoded: (u32, u32), resize: (u32, u32)) -> Pipeline {
        Pipeline {
            decoded,
            decoder_bytes: 0,
            channels: 4,
            turned: false,
            resize,
            crop: None,
            auto_gravity: false,
            pad: None,
            blurred: false,
            sharpened: false,
            encoder: 10,
        }
    }

    #[test]
    fn thumbnails_of_big_photos_fit() {
        assert!(pipeline((4000, 3000), (800, 600)).check().is_ok());
    }

    #[test]
    fn huge_outputs_are_refused_before_allocating() {
        // The review's attack: a 16×16 PNG padded to 8192² and blurred.
        let mut p = pipeline((16, 16), (16, 16));
        p.pad = Some((8192, 8192));
        p.blurred = true;
        let e = p.check().unwrap_err();
        assert_eq!((e.status, e.code), (422, "too_many_pixels"));
        assert!(e.message.contains("8192×8192"), "{}", e.message);
        // fit=cover on a 2000×2 strip plans an 8-million-pixel-wide resize.
        let mut strip = pipeline((2000, 2), (8_192_000, 8192));
        strip.crop = Some((8192, 8192));
        assert!(strip.check().is_err());
    }

    #[test]
    fn progressive_coefficients_count_at_full_size() {
        let f = JpegFrame { width: 10_000, height: 10_000, progressive: true, sampling: vec![(2, 2), (1, 1), (1, 1)] };
        // 4:2:0 holds 1.5 samples a pixel, two bytes each.
        assert_eq!(f.coefficient_bytes(), 10_000u64.div_ceil(16) * 10_000u64.div_ceil(16) * 6 * 128);
        assert!(check_decode(1250, 1250, f.coefficient_bytes()).is_err());
        let baseline = JpegFrame { progressive: false, ..f };
        assert_eq!(baseline.coefficient_bytes(), 0);
    }

    #[test]
    fn upload_sizes() {
        assert!(check_upload_size(6000, 4000).is_ok());
        assert!(check_upload_size(12_001, 10).is_err());
        assert!(check_upload_size(11_000, 11_000).is_err());
    }

    #[test]
    fn bodies_fit_the_isolate() {
        assert_eq!(max_body_bytes(5 << 20), MAX_BATCH_BODY_BYTES);
        assert!(max_body_bytes(MAX_UPLOAD_BYTES_CEILING) < 40 << 20);
    }
}
