//! Encoders. Outputs carry no metadata: nothing from the source's EXIF survives a transform.

use super::options::OutFormat;
use crate::base::error::ApiError;
use image::DynamicImage;
use std::io::Cursor;

/// Progressive JPEG and optimised Huffman tables need every block in memory (about 9 bytes a
/// pixel); below this many pixels that is cheap, above it the encoder streams.
pub const BUFFERED_JPEG_MAX_PIXELS: u64 = 4_000_000;

fn failed(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("{what} encoding failed: {e}"))
}

pub fn encode(img: &DynamicImage, format: OutFormat, quality: u8) -> Result<Vec<u8>, ApiError> {
    let (w, h) = (img.width(), img.height());
    match format {
        OutFormat::Jpeg | OutFormat::Auto => {
            let mut out = Vec::new();
            let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
            let buffered = w as u64 * h as u64 <= BUFFERED_JPEG_MAX_PIXELS;
            enc.set_progressive(buffered);
            // Huffman tables fitted to the image: several percent smaller for one more pass.
            enc.set_optimized_huffman_tables(buffered);
            let (w16, h16) = (u16::try_from(w).map_err(|e| failed("JPEG", e))?, u16::try_from(h).map_err(|e| failed("JPEG", e))?);
            match img {
                DynamicImage::ImageLuma8(g) => enc.encode(g.as_raw(), w16, h16, jpeg_encoder::ColorType::Luma),
                DynamicImage::ImageRgb8(rgb) => enc.encode(rgb.as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb),
                // JPEG has no alpha: flatten onto white, as browsers show transparency on pages.
                other => enc.encode(flatten(other).as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb),
            }
            .map_err(|e| failed("JPEG", e))?;
            Ok(out)
        }
        OutFormat::Webp => {
            let mut out = Vec::new();
            let mut enc = lossy_webp::WebPEncoder::new(&mut out);
            let mut params = lossy_webp::EncoderParams::default();
            params.use_lossy = true;
            params.lossy_quality = quality;
            enc.set_params(params);
            let rgba;
            let (data, color) = match img {
                DynamicImage::ImageRgb8(rgb) => (rgb.as_raw().as_slice(), lossy_webp::ColorType::Rgb8),
                DynamicImage::ImageRgba8(rgba) => (rgba.as_raw().as_slice(), lossy_webp::ColorType::Rgba8),
                DynamicImage::ImageLuma8(g) => (g.as_raw().as_slice(), lossy_webp::ColorType::L8),
                other => {
                    rgba = other.to_rgba8();
                    (rgba.as_raw().as_slice(), lossy_webp::ColorType::Rgba8)
                }
            };
            enc.encode(data, w, h, color).map_err(|e| failed("WebP", e))?;
            Ok(out)
        }
        OutFormat::Png => write(img, image::ImageFormat::Png),
        OutFormat::Gif => write(&DynamicImage::ImageRgba8(img.to_rgba8()), image::ImageFormat::Gif),
        OutFormat::Avif => Err(ApiError::bad_request("bad_parameter", "format=avif is not available as an output: use webp or jpeg")),
    }
}

fn write(img: &DynamicImage, format: image::ImageFormat) -> Result<Vec<u8>, ApiError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).map_err(|e| failed(format.extensions_str()[0], e))?;
    Ok(out.into_inner())
}

fn flatten(img: &DynamicImage) -> image::RgbImage {
    let rgba = img.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = p[3] as u16;
        for c in 0..3 {
            o[c] = ((p[c] as u16 * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    rgb
}
