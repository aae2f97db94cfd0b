//! Upload compression (what people add the TinyPNG plugin for): JPEGs are re-encoded at a
//! quality setting, PNGs are quantised to a 256-colour palette when that looks the same, and
//! the longest side can be capped. The original is kept whenever the result is not smaller.

use super::options::{Options, OutFormat};
use super::{encode, render};
use crate::base::error::ApiError;
use crate::budget::SOURCE_TOO_LARGE;
use crate::sniff::{Format, Sniffed};
use image::DynamicImage;

/// A palette is used only when it is this close to the original (peak signal-to-noise, dB).
const PALETTE_MIN_PSNR: f64 = 38.0;

/// The compressed file, or `None` when compression would not make it smaller (or the format
/// is one it leaves alone).
pub fn compress(bytes: &[u8], sniffed: &Sniffed, quality: u8, max_side: Option<u32>) -> Result<Option<Vec<u8>>, ApiError> {
    if !matches!(sniffed.format, Format::Jpeg | Format::Png) || sniffed.animated {
        return Ok(None);
    }
    let (opts, needs_shrink) = plan(sniffed, quality, max_side);
    let format = if sniffed.format == Format::Jpeg { OutFormat::Jpeg } else { OutFormat::Png };
    let img = match render(bytes, sniffed, &opts, format) {
        Ok(img) => img,
        // Too large to re-encode within the memory budget: the original is kept, unless a
        // smaller size was asked for and cannot be made.
        Err(e) if !needs_shrink && matches!(e.code, "too_many_pixels" | SOURCE_TOO_LARGE) => return Ok(None),
        Err(e) => return Err(e),
    };
    let out = match sniffed.format {
        Format::Jpeg => encode::encode(&img, OutFormat::Jpeg, quality)?,
        _ => match palette_png(&img)? {
            Some(p) => p,
            None => encode::encode(&img, OutFormat::Png, quality)?,
        },
    };
    Ok((out.len() < bytes.len() || needs_shrink).then_some(out))
}

/// The transform a compression is, and whether it must shrink the image (then its result is
/// kept even when it is not smaller): quality, and the longest side capped at `max_side`.
pub fn plan(sniffed: &Sniffed, quality: u8, max_side: Option<u32>) -> (Options, bool) {
    let needs_shrink = max_side.is_some_and(|m| sniffed.width.max(sniffed.height) > m);
    let mut opts = Options { quality, ..Options::default() };
    if let Some(m) = max_side {
        if sniffed.width >= sniffed.height {
            opts.width = Some(m);
        } else {
            opts.height = Some(m);
        }
    }
    (opts, needs_shrink)
}

/// NeuQuant to 256 colours (alpha included), written as an indexed PNG, if it looks the same.
fn palette_png(img: &DynamicImage) -> Result<Option<Vec<u8>>, ApiError> {
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let nq = color_quant::NeuQuant::new(10, 256, rgba.as_raw());
    let indices: Vec<u8> = rgba.pixels().map(|p| nq.index_of(&p.0) as u8).collect();
    let palette = nq.color_map_rgba();
    let mut squared_error = 0f64;
    for (p, &i) in rgba.pixels().zip(&indices) {
        let q = &palette[i as usize * 4..i as usize * 4 + 4];
        squared_error += (0..4).map(|c| (p[c] as f64 - q[c] as f64).powi(2)).sum::<f64>();
    }
    let mse = squared_error / (w as f64 * h as f64 * 4.0);
    let psnr = if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() };
    if psnr < PALETTE_MIN_PSNR {
        return Ok(None);
    }
    let err = |e: png::EncodingError| ApiError::internal(format!("PNG encoding failed: {e}"));
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(palette.chunks_exact(4).flat_map(|c| [c[0], c[1], c[2]]).collect::<Vec<_>>());
    enc.set_trns(palette.chunks_exact(4).map(|c| c[3]).collect::<Vec<_>>());
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(&indices).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(Some(out))
}
