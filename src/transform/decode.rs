//! Decoding in two steps, so that memory is budgeted before it is spent: [`open`] reads the
//! headers and chooses how to decode (JPEGs at 1/2, 1/4 or 1/8 scale whenever the output is
//! small enough: shrink-on-load, where the IDCT itself produces fewer pixels), then the caller
//! checks the whole pipeline against [`crate::budget`], and only then [`Source::decode`]
//! allocates pixels.

use crate::base::error::ApiError;
use crate::budget::{self, JpegFrame, MAX_UPLOAD_SIDE};
use crate::sniff::Format;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, RgbImage};
use std::io::Cursor;

fn corrupt(e: impl std::fmt::Display) -> ApiError {
    ApiError::corrupt(format!("the image could not be decoded: {e}"))
}

/// A source whose headers are read and whose decoding cost is known.
pub struct Source<'a> {
    kind: Kind<'a>,
    /// Pixel size the decode will produce (stored orientation).
    pub size: (u32, u32),
    /// Bytes per pixel once normalised to 8-bit grey, RGB or RGBA.
    pub channels: u64,
    /// What the decoder holds besides those pixels (coefficients, a 16-bit or CMYK buffer).
    pub decoder_bytes: u64,
}

enum Kind<'a> {
    Jpeg(Box<jpeg_decoder::Decoder<Cursor<&'a [u8]>>>, jpeg_decoder::PixelFormat),
    Other(Box<dyn ImageDecoder + 'a>),
}

/// Reads the headers of `bytes` and plans a decode that gives at least `want` pixels (in
/// stored orientation), checking the decode alone against the budget.
pub fn open(bytes: &[u8], format: Format, want: (u32, u32)) -> Result<Source<'_>, ApiError> {
    let source = match format {
        Format::Jpeg => open_jpeg(bytes, want)?,
        Format::Avif => return Err(ApiError::unsupported_type("AVIF images are served as they are: transforms cannot decode AVIF")),
        _ => {
            let f = match format {
                Format::Png => ImageFormat::Png,
                Format::Gif => ImageFormat::Gif,
                Format::Webp => ImageFormat::WebP,
                Format::Bmp => ImageFormat::Bmp,
                _ => ImageFormat::Ico,
            };
            let mut reader = image::ImageReader::with_format(Cursor::new(bytes), f);
            reader.limits(limits());
            let decoder = reader.into_decoder().map_err(corrupt)?;
            let size = decoder.dimensions();
            let color = decoder.color_type();
            let channels = match (color.has_alpha(), color.has_color()) {
                (true, _) => 4,
                (false, true) => 3,
                (false, false) => 1,
            };
            let native = decoder.total_bytes();
            // 8-bit layouts are used as they are; others are converted (a second buffer).
            let converted = !matches!(color, image::ColorType::L8 | image::ColorType::Rgb8 | image::ColorType::Rgba8);
            // WebP decodes through YUV planes, GIF through palette indices and a canvas.
            let working = size.0 as u64
                * size.1 as u64
                * match format {
                    Format::Webp => 2,
                    Format::Gif => 5,
                    _ => 0,
                };
            Source { kind: Kind::Other(Box::new(decoder)), size, channels, decoder_bytes: working + if converted { native } else { 0 } }
        }
    };
    budget::check_decode(source.size.0, source.size.1, source.size.0 as u64 * source.size.1 as u64 * source.channels + source.decoder_bytes)?;
    Ok(source)
}

fn limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_UPLOAD_SIDE);
    limits.max_image_height = Some(MAX_UPLOAD_SIDE);
    limits.max_alloc = Some(budget::PIXEL_BUDGET_BYTES);
    limits
}

/// The JPEG scale denominators jpeg-decoder supports, smallest output first.
const SCALES: [u32; 4] = [8, 4, 2, 1];

fn open_jpeg(bytes: &[u8], (want_w, want_h): (u32, u32)) -> Result<Source<'_>, ApiError> {
    // Our own read of the frame header first: jpeg-decoder panics on layouts it cannot take.
    let frame =
        JpegFrame::read(bytes).ok_or_else(|| ApiError::unsupported_type("this JPEG's layout cannot be decoded (lossless, 12-bit or unusual components)"))?;
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.read_info().map_err(corrupt)?;
    let info = d.info().ok_or_else(|| corrupt("no frame header"))?;
    let (w, h) = (info.width as u32, info.height as u32);
    let per_pixel: u64 = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => 1,
        jpeg_decoder::PixelFormat::L16 => 2,
        jpeg_decoder::PixelFormat::RGB24 => 3,
        jpeg_decoder::PixelFormat::CMYK32 => 4,
    };
    // The smallest scale that still gives enough pixels for the output; larger scales only
    // when the budget demands (the output is then downscaled on load).
    // Output, component planes (see `decoder_bytes` below) and coefficients must fit.
    let fits = |s: u32| w.div_ceil(s) as u64 * h.div_ceil(s) as u64 * per_pixel * 5 / 2 + frame.coefficient_bytes() <= budget::PIXEL_BUDGET_BYTES;
    let needed = SCALES.iter().copied().find(|&s| w.div_ceil(s) >= want_w && h.div_ceil(s) >= want_h).unwrap_or(1);
    let s = SCALES.iter().rev().copied().filter(|&s| s >= needed).find(|&s| fits(s)).unwrap_or(8);
    let (sw, sh) = d.scale(w.div_ceil(s) as u16, h.div_ceil(s) as u16).map_err(corrupt)?;
    let (sw, sh) = (sw as u32, sh as u32);
    let pixels = sw as u64 * sh as u64;
    d.set_max_decoding_buffer_size(budget::PIXEL_BUDGET_BYTES as usize);
    let channels = if per_pixel == 4 { 3 } else { per_pixel.min(3) };
    let converted = matches!(info.pixel_format, jpeg_decoder::PixelFormat::L16 | jpeg_decoder::PixelFormat::CMYK32);
    Ok(Source {
        kind: Kind::Jpeg(Box::new(d), info.pixel_format),
        size: (sw, sh),
        channels: if per_pixel == 2 { 1 } else { channels },
        // The decoder keeps one plane per component besides the interleaved output.
        decoder_bytes: frame.coefficient_bytes() + pixels * per_pixel * 3 / 2 + if converted { pixels * per_pixel } else { 0 },
    })
}

impl Source<'_> {
    /// Decodes the pixels; call only after the pipeline has been checked.
    pub fn decode(self) -> Result<DynamicImage, ApiError> {
        let (sw, sh) = self.size;
        match self.kind {
            Kind::Other(decoder) => DynamicImage::from_decoder(decoder).map_err(|e| match e {
                image::ImageError::Limits(_) => budget::check_decode(sw, sh, u64::MAX).unwrap_err(),
                e => corrupt(e),
            }),
            Kind::Jpeg(mut d, format) => {
                let pixels = d.decode().map_err(corrupt)?;
                let bad_size = || corrupt("the decoded size does not match the header");
                match format {
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
        }
    }
}
