//! On-the-fly transforms, one step per module in the order they run:
//! [`options`] (parse, normalise) → [`geometry`] (plan the output size) → [`decode`]
//! (shrink-on-load, limits) → [`ops`] (orient, rotate, flip) → [`resize`] → [`ops`] (crop or
//! pad, blur, sharpen, grey) → [`watermark`] (for the public, when set) → [`encode`].

pub mod compress;
pub mod decode;
pub mod encode;
pub mod engine;
pub mod frames;
pub mod geometry;
pub mod ops;
pub mod options;
pub mod placeholder;
pub mod resize;
pub mod watermark;

use crate::base::error::ApiError;
use crate::budget::Pipeline;
use crate::sniff::{Format, Sniffed};
use geometry::Plan;
use options::{Fit, Options, OutFormat};

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
    encode::encode(&render(input, sniffed, opts, format)?, format, opts.quality)
}

/// The most bytes of pixel buffers [`run`] will hold at once for this request, as checked
/// against the budget; reads headers only.
pub fn estimate(input: &[u8], sniffed: &Sniffed, opts: &Options, format: OutFormat) -> Result<u64, ApiError> {
    let source = decode::open(input, sniffed.format, decode_target(sniffed, opts, &plan(sniffed, opts)))?;
    Ok(pipeline(&source, sniffed, opts, format).1.peak_bytes())
}

/// The plan against the size the source will really decode to, and the buffers it needs.
fn pipeline(source: &decode::Source, sniffed: &Sniffed, opts: &Options, format: OutFormat) -> (Plan, Pipeline) {
    let planned = plan(sniffed, opts);
    // A JPEG decoded below budget may be smaller than the plan: scale the plan to it.
    let turned = swapped(sniffed, opts);
    let decoded = if turned { (source.size.1, source.size.0) } else { source.size };
    let plan = if decoded == oriented_size(sniffed, opts) { planned } else { rescaled(&planned, oriented_size(sniffed, opts), decoded, opts) };
    let pipeline = Pipeline {
        decoded: source.size,
        decoder_bytes: source.decoder_bytes,
        channels: source.channels,
        turned,
        resize: plan.resize,
        crop: plan.crop,
        auto_gravity: opts.gravity == options::Gravity::Auto,
        pad: plan.pad,
        blurred: opts.blur.is_some(),
        sharpened: opts.sharpen.is_some_and(|s| s > 0.0),
        encoder: encoder_cost(format, plan.output()),
    };
    (plan, pipeline)
}

/// Bytes per output pixel an encoder keeps besides the pixels it is given (measured in
/// `tests/memory.rs`): JPEG buffers every block for its optimised Huffman tables, WebP converts
/// to RGBA and YUV planes, GIF to RGBA and palette indices.
fn encoder_cost(format: OutFormat, (w, h): (u32, u32)) -> u64 {
    match format {
        OutFormat::Jpeg | OutFormat::Auto if w as u64 * h as u64 <= encode::BUFFERED_JPEG_MAX_PIXELS => ENCODER_JPEG_BUFFERED,
        OutFormat::Jpeg | OutFormat::Auto => ENCODER_JPEG_STREAMED,
        OutFormat::Webp => ENCODER_WEBP,
        OutFormat::Gif => ENCODER_GIF,
        OutFormat::Png | OutFormat::Avif => ENCODER_PNG,
    }
}

const ENCODER_JPEG_BUFFERED: u64 = 9;
const ENCODER_JPEG_STREAMED: u64 = 3;
const ENCODER_WEBP: u64 = 4;
const ENCODER_GIF: u64 = 10;
const ENCODER_PNG: u64 = 2;

/// Every step but the encoding: the pixels of the output. The memory every step will need is
/// checked against [`crate::budget`] after the headers are read and before any pixel exists.
pub fn render(input: &[u8], sniffed: &Sniffed, opts: &Options, format: OutFormat) -> Result<image::DynamicImage, ApiError> {
    let source = decode::open(input, sniffed.format, decode_target(sniffed, opts, &plan(sniffed, opts)))?;
    let (plan, pipeline) = pipeline(&source, sniffed, opts, format);
    pipeline.check()?;
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
    let img = effects(img, opts);
    Ok(match &opts.watermark {
        Some(mark) => mark.apply(img, opts.watermark_logo.as_deref()),
        None => img,
    })
}

/// The steps after geometry: blur, sharpen, grey.
fn effects(mut img: image::DynamicImage, opts: &Options) -> image::DynamicImage {
    if let Some(b) = opts.blur {
        img = ops::blur(img, b);
    }
    if let Some(s) = opts.sharpen {
        img = ops::sharpen(img, s);
    }
    if opts.gray {
        img = ops::gray(img);
    }
    img
}

/// For pictures drawn rather than decoded (local placeholders): checks the budget for an RGB
/// image of `size` going through `opts`' effects and the encoder, before it is drawn.
pub fn check_drawn(size: (u32, u32), opts: &Options, format: OutFormat) -> Result<(), ApiError> {
    Pipeline {
        decoded: size,
        decoder_bytes: 0,
        channels: 3,
        turned: false,
        resize: size,
        crop: None,
        auto_gravity: false,
        pad: None,
        blurred: opts.blur.is_some(),
        sharpened: opts.sharpen.is_some_and(|s| s > 0.0),
        encoder: encoder_cost(format, size),
    }
    .check()
}

/// Applies `opts`' effects to a drawn picture and encodes it.
pub fn finish_drawn(img: image::DynamicImage, opts: &Options, format: OutFormat) -> Result<Vec<u8>, ApiError> {
    encode::encode(&effects(img, opts), format, opts.quality)
}

/// Size after EXIF orientation and the `rotate` parameter: what `w` and `h` refer to.
fn oriented_size(s: &Sniffed, opts: &Options) -> (u32, u32) {
    if opts.rotate == 90 || opts.rotate == 270 {
        (s.height, s.width)
    } else {
        (s.width, s.height)
    }
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
    if swapped(s, opts) {
        (rh, rw)
    } else {
        (rw, rh)
    }
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
