//! On-the-fly transforms, one step per module in the order they run:
//! [`options`] (parse, normalise) → [`geometry`] (plan the output size) → [`decode`]
//! (shrink-on-load, limits) → [`ops`] (orient, rotate, flip) → [`resize`] → [`ops`] (crop or
//! pad, blur, sharpen, grey) → [`encode`].

pub mod compress;
pub mod decode;
pub mod encode;
pub mod geometry;
pub mod ops;
pub mod options;
pub mod resize;

use crate::error::ApiError;
use crate::security::Pipeline;
use crate::sniff::{Format, Sniffed};
use geometry::Plan;
use options::{Fit, OutFormat, Options};

/// The output format a source keeps when the request names none.
pub fn same_format(f: Format) -> Option<OutFormat> {
    match f {
        Format::Jpeg => Some(OutFormat::Jpeg),
        Format::Png => Some(OutFormat::Png),
        Format::Webp => Some(OutFormat::Webp),
        Format::Gif => Some(OutFormat::Gif),
        _ => None,
    }
}

/// Transforms an image. `sniffed` describes `input` (its EXIF orientation is applied first);
/// `format` is already negotiated.
pub fn run(input: &[u8], sniffed: &Sniffed, opts: &Options, format: OutFormat) -> Result<Vec<u8>, ApiError> {
    if format == OutFormat::Avif {
        return Err(ApiError::bad_request("bad_parameter", "format=avif is not available as an output: use webp or jpeg"));
    }
    encode::encode(&render(input, sniffed, opts)?, format, opts.quality)
}

/// Every step but the encoding: the pixels of the output. The memory every step will need is
/// checked against [`crate::security`] after the headers are read and before any pixel exists.
pub fn render(input: &[u8], sniffed: &Sniffed, opts: &Options) -> Result<image::DynamicImage, ApiError> {
    let planned = plan(sniffed, opts);
    let source = decode::open(input, sniffed.format, decode_target(sniffed, opts, &planned))?;
    // A JPEG decoded below budget may be smaller than the plan: scale the plan to it.
    let turned = swapped(sniffed, opts);
    let decoded = if turned { (source.size.1, source.size.0) } else { source.size };
    let plan = if decoded == oriented_size(sniffed, opts) { planned } else { rescaled(&planned, oriented_size(sniffed, opts), decoded, opts) };
    Pipeline {
        decoded: source.size,
        decoder_bytes: source.decoder_bytes,
        channels: source.channels,
        turned,
        resize: plan.resize,
        crop: plan.crop,
        auto_gravity: opts.gravity == options::Gravity::Auto,
        pad: plan.pad,
        filtered: opts.blur.is_some() || opts.sharpen.is_some(),
    }
    .check()?;
    let img = resize::normalise(source.decode()?);
    let img = ops::orient(img, sniffed.exif_orientation);
    let mut img = ops::rotate(img, opts.rotate);
    if opts.flip_h {
        img = img.fliph();
    }
    if opts.flip_v {
        img = img.flipv();
    }
    let mut img = resize::resize(img, plan.resize)?;
    if let Some(c) = plan.crop {
        img = ops::crop(img, c, opts.gravity);
    }
    if let Some(p) = plan.pad {
        img = ops::pad(img, p, opts.gravity, opts.background);
    }
    if let Some(b) = opts.blur {
        img = ops::blur(img, b);
    }
    if let Some(s) = opts.sharpen {
        img = ops::sharpen(img, s);
    }
    if opts.gray {
        img = ops::gray(img);
    }
    Ok(img)
}

/// Size after EXIF orientation and the `rotate` parameter: what `w` and `h` refer to.
fn oriented_size(s: &Sniffed, opts: &Options) -> (u32, u32) {
    if opts.rotate == 90 || opts.rotate == 270 { (s.height, s.width) } else { (s.width, s.height) }
}

fn plan(s: &Sniffed, opts: &Options) -> Plan {
    let (w, h) = opts.target();
    geometry::plan(oriented_size(s, opts), w, h, opts.fit)
}

/// Pixels the decoder must deliver, in stored orientation, for `plan.resize` to be a downscale.
fn decode_target(s: &Sniffed, opts: &Options, plan: &Plan) -> (u32, u32) {
    let (rw, rh) = plan.resize;
    let (ow, oh) = oriented_size(s, opts);
    // Never ask for more than the source has: upscales decode at full size.
    let (rw, rh) = (rw.min(ow), rh.min(oh));
    if swapped(s, opts) { (rh, rw) } else { (rw, rh) }
}

/// Whether the stored pixels are turned by 90° on the way (EXIF orientation, `rotate`).
fn swapped(s: &Sniffed, opts: &Options) -> bool {
    (s.exif_orientation >= 5) != (opts.rotate == 90 || opts.rotate == 270)
}

/// Re-plans against the size actually decoded (a JPEG over the pixel budget is downscaled on
/// load, so the plan shrinks with it; fixed-size modes keep their target).
fn rescaled(plan: &Plan, planned_source: (u32, u32), decoded: (u32, u32), opts: &Options) -> Plan {
    let (w, h) = opts.target();
    if w.is_none() && h.is_none() {
        return Plan { resize: decoded, crop: None, pad: None };
    }
    let fit = if opts.fit == Fit::ScaleDown && plan.resize == planned_source { Fit::ScaleDown } else { opts.fit };
    geometry::plan(decoded, w, h, fit)
}
