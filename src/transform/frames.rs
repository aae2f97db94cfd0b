//! Frames of an animation, for review: what browsers play, not only the default image (an APNG's
//! or GIF's first frame can be harmless while the ones that follow are not).

use super::encode::encode;
use super::geometry::plan;
use super::options::{Fit, OutFormat};
use super::resize::resize;
use crate::base::error::ApiError;
use crate::budget;
use crate::sniff::{Format, Sniffed};
use image::{AnimationDecoder, DynamicImage, Frames};
use std::io::Cursor;

/// Which of `frames` frames to look at: `count` of them spread evenly, first and last included.
pub fn spread(frames: u32, count: u32) -> Vec<u32> {
    let count = count.min(frames).max(1);
    if count == 1 {
        return vec![0];
    }
    let mut picked: Vec<u32> = (0..count).map(|i| (i as u64 * (frames - 1) as u64 / (count - 1) as u64) as u32).collect();
    picked.dedup();
    picked
}

/// JPEG previews (longest side `side`) of the frames `picked` (ascending indices) of an
/// animated GIF, PNG or WebP. Frames are composed on the canvas one at a time, so memory is one
/// canvas and one preview, whatever the length of the animation.
pub fn previews(bytes: &[u8], sniffed: &Sniffed, picked: &[u32], side: u32) -> Result<Vec<Vec<u8>>, ApiError> {
    let (w, h) = (sniffed.width, sniffed.height);
    // The decoder's canvas and the frame it hands out, both RGBA, plus its working buffers.
    budget::check_decode(w, h, w as u64 * h as u64 * 4 * 3)?;
    let corrupt = |e: image::ImageError| ApiError::corrupt(format!("a frame could not be decoded: {e}"));
    let cursor = Cursor::new(bytes);
    let frames: Frames = match sniffed.format {
        Format::Gif => image::codecs::gif::GifDecoder::new(cursor).map_err(corrupt)?.into_frames(),
        Format::Png => image::codecs::png::PngDecoder::new(cursor).map_err(corrupt)?.apng().map_err(corrupt)?.into_frames(),
        Format::Webp => image::codecs::webp::WebPDecoder::new(cursor).map_err(corrupt)?.into_frames(),
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::with_capacity(picked.len());
    let last = picked.last().copied().unwrap_or(0);
    for (i, frame) in frames.enumerate().take(last as usize + 1) {
        let frame = frame.map_err(corrupt)?;
        if picked.contains(&(i as u32)) {
            let canvas = frame.into_buffer();
            let size = plan(canvas.dimensions(), Some(side), Some(side), Fit::ScaleDown).output();
            let small = resize(DynamicImage::ImageRgba8(canvas), size)?;
            out.push(encode(&small, OutFormat::Jpeg, 80)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_over_the_whole_animation() {
        assert_eq!(spread(1, 4), vec![0]);
        assert_eq!(spread(2, 4), vec![0, 1]);
        assert_eq!(spread(8, 4), vec![0, 2, 4, 7]);
        assert_eq!(spread(1000, 4), vec![0, 333, 666, 999]);
    }
}
