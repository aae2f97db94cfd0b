//! Decoding with limits. JPEGs are decoded at 1/2, 1/4 or 1/8 scale whenever the output is
//! small enough (shrink-on-load: the IDCT itself produces fewer pixels), so time and memory
//! follow the output size. Every decode is held to [`MAX_DECODE_PIXELS`]: a JPEG over it is
//! downscaled on load, anything else is refused before a byte of pixels is allocated.

use crate::error::ApiError;
use crate::sniff::Format;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};
use std::io::Cursor;

/// 16 MP: 48 MB as RGB, which leaves room for the resize and encode in a 128 MB isolate.
pub const MAX_DECODE_PIXELS: u64 = 16_000_000;

fn too_many(w: u32, h: u32) -> ApiError {
    ApiError::new(
        422,
        "too_many_pixels",
        format!("the image is {w}×{h}: transforms take images up to {} megapixels", MAX_DECODE_PIXELS / 1_000_000),
    )
}

fn corrupt(e: impl std::fmt::Display) -> ApiError {
    ApiError::corrupt(format!("the image could not be decoded: {e}"))
}

/// Decodes `bytes`, aiming for at least `want` pixels (in stored orientation).
pub fn decode(bytes: &[u8], format: Format, (width, height): (u32, u32), want: (u32, u32)) -> Result<DynamicImage, ApiError> {
    match format {
        Format::Jpeg => decode_jpeg(bytes, want),
        Format::Avif => Err(ApiError::unsupported_type("AVIF images are served as they are: transforms cannot decode AVIF")),
        _ => {
            if width as u64 * height as u64 > MAX_DECODE_PIXELS {
                return Err(too_many(width, height));
            }
            let f = match format {
                Format::Png => ImageFormat::Png,
                Format::Gif => ImageFormat::Gif,
                Format::Webp => ImageFormat::WebP,
                Format::Bmp => ImageFormat::Bmp,
                _ => ImageFormat::Ico,
            };
            let mut reader = image::ImageReader::with_format(Cursor::new(bytes), f);
            reader.limits(limits());
            // Header dimensions were checked at upload, but a file can lie in later chunks.
            let (w, h) = reader.into_dimensions().map_err(corrupt)?;
            if w as u64 * h as u64 > MAX_DECODE_PIXELS {
                return Err(too_many(w, h));
            }
            let mut reader = image::ImageReader::with_format(Cursor::new(bytes), f);
            reader.limits(limits());
            reader.decode().map_err(|e| match e {
                image::ImageError::Limits(_) => too_many(width, height),
                e => corrupt(e),
            })
        }
    }
}

fn limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(MAX_DECODE_PIXELS * 4 + 8 * 1024 * 1024);
    limits
}

/// The JPEG scale denominators jpeg-decoder supports, smallest output first.
const SCALES: [u32; 4] = [8, 4, 2, 1];

fn decode_jpeg(bytes: &[u8], (want_w, want_h): (u32, u32)) -> Result<DynamicImage, ApiError> {
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.read_info().map_err(corrupt)?;
    let info = d.info().ok_or_else(|| corrupt("no frame header"))?;
    let (w, h) = (info.width as u32, info.height as u32);
    // The smallest scale that still gives enough pixels for the output…
    let needed = SCALES.iter().copied().find(|&s| w.div_ceil(s) >= want_w && h.div_ceil(s) >= want_h).unwrap_or(1);
    // …unless that breaks the budget, in which case the output is downscaled on load.
    let budget = SCALES
        .iter()
        .rev()
        .copied()
        .find(|&s| w.div_ceil(s) as u64 * h.div_ceil(s) as u64 <= MAX_DECODE_PIXELS)
        .ok_or_else(|| too_many(w, h))?;
    let s = needed.max(budget);
    let (sw, sh) = d.scale(w.div_ceil(s) as u16, h.div_ceil(s) as u16).map_err(corrupt)?;
    d.set_max_decoding_buffer_size((MAX_DECODE_PIXELS * 4) as usize);
    let pixels = d.decode().map_err(corrupt)?;
    let (sw, sh) = (sw as u32, sh as u32);
    let bad_size = || corrupt("the decoded size does not match the header");
    match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => Ok(DynamicImage::ImageRgb8(RgbImage::from_raw(sw, sh, pixels).ok_or_else(bad_size)?)),
        jpeg_decoder::PixelFormat::L8 => Ok(DynamicImage::ImageLuma8(GrayImage::from_raw(sw, sh, pixels).ok_or_else(bad_size)?)),
        jpeg_decoder::PixelFormat::L16 => {
            let gray = pixels.chunks_exact(2).map(|p| p[0]).collect();
            Ok(DynamicImage::ImageLuma8(GrayImage::from_raw(sw, sh, gray).ok_or_else(bad_size)?))
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            // Adobe writes CMYK inverted, which is what nearly every CMYK JPEG is.
            let rgb = pixels
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = p[3] as u16;
                    [(p[0] as u16 * k / 255) as u8, (p[1] as u16 * k / 255) as u8, (p[2] as u16 * k / 255) as u8]
                })
                .collect();
            Ok(DynamicImage::ImageRgb8(RgbImage::from_raw(sw, sh, rgb).ok_or_else(bad_size)?))
        }
    }
}
