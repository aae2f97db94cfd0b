//! Transform parameters from the query string: parsed, range-checked (400 naming the parameter)
//! and normalised into the key a variant is cached under.

use crate::base::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    ScaleDown,
    Contain,
    Cover,
    Crop,
    Pad,
    Fill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gravity {
    Center,
    Top,
    Bottom,
    Left,
    Right,
    /// The most detailed region (highest edge energy) of the image.
    Auto,
}

/// Output formats; `Auto` is resolved from the `Accept` header before anything else happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    Auto,
    Jpeg,
    Png,
    Webp,
    Avif,
    Gif,
}

impl OutFormat {
    pub fn name(self) -> &'static str {
        match self {
            OutFormat::Auto => "auto",
            OutFormat::Jpeg => "jpeg",
            OutFormat::Png => "png",
            OutFormat::Webp => "webp",
            OutFormat::Avif => "avif",
            OutFormat::Gif => "gif",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            OutFormat::Jpeg | OutFormat::Auto => "image/jpeg",
            OutFormat::Png => "image/png",
            OutFormat::Webp => "image/webp",
            OutFormat::Avif => "image/avif",
            OutFormat::Gif => "image/gif",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub gravity: Gravity,
    pub quality: u8,
    pub format: Option<OutFormat>,
    pub dpr: f32,
    pub blur: Option<f32>,
    pub sharpen: Option<f32>,
    pub gray: bool,
    pub rotate: u16,
    pub flip_h: bool,
    pub flip_v: bool,
    /// RGBA for `fit=pad`.
    pub background: [u8; 4],
    /// Set by the server for what the public sees (`WATERMARK_TEXT`), never by the query.
    pub watermark: Option<super::watermark::Mark>,
    /// The `WATERMARK_IMAGE` logo's pixels, read just before a variant is made.
    pub watermark_logo: Option<std::rc::Rc<image::RgbaImage>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            width: None,
            height: None,
            fit: Fit::ScaleDown,
            gravity: Gravity::Center,
            quality: 80,
            format: None,
            dpr: 1.0,
            blur: None,
            sharpen: None,
            gray: false,
            rotate: 0,
            flip_h: false,
            flip_v: false,
            background: [255, 255, 255, 255],
            watermark: None,
            watermark_logo: None,
        }
    }
}

use crate::budget::MAX_TRANSFORM_SIDE as MAX_SIDE;

/// Query parameters that belong to a transform.
const KNOWN: [&str; 19] = [
    "w",
    "width",
    "h",
    "height",
    "fit",
    "gravity",
    "q",
    "quality",
    "f",
    "format",
    "dpr",
    "blur",
    "sharpen",
    "gray",
    "rotate",
    "flip",
    "background",
    "bg",
    "sig",
];

fn bad(param: &str, value: &str, expected: &str) -> ApiError {
    ApiError::bad_request("bad_parameter", format!("{param}={value:?} is not valid: expected {expected}"))
}

fn number<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(param: &str, v: &str, lo: T, hi: T) -> Result<T, ApiError> {
    v.trim().parse::<T>().ok().filter(|n| *n >= lo && *n <= hi).ok_or_else(|| bad(param, v, &format!("a number from {lo} to {hi}")))
}

impl Options {
    /// Reads transform parameters from `pairs`. Returns `None` when there are none; keys in
    /// `other` belong to the caller (e.g. `/random`'s filters) and are skipped; anything else
    /// is a 400 that names it.
    pub fn parse(pairs: &[(String, String)], other: &[&str]) -> Result<Option<Options>, ApiError> {
        let mut o = Options::default();
        let mut any = false;
        for (k, v) in pairs {
            let k = k.as_str();
            if other.contains(&k) {
                continue;
            }
            if !KNOWN.contains(&k) {
                return Err(ApiError::bad_request(
                    "bad_parameter",
                    format!("unknown parameter {k:?}: transforms take w, h, fit, gravity, q, f, dpr, blur, sharpen, gray, rotate, flip, background"),
                ));
            }
            any = true;
            match k {
                "w" | "width" => o.width = Some(number(k, v, 1, MAX_SIDE)?),
                "h" | "height" => o.height = Some(number(k, v, 1, MAX_SIDE)?),
                "fit" => {
                    o.fit = match v.as_str() {
                        "scale-down" => Fit::ScaleDown,
                        "contain" => Fit::Contain,
                        "cover" => Fit::Cover,
                        "crop" => Fit::Crop,
                        "pad" => Fit::Pad,
                        "fill" | "squeeze" => Fit::Fill,
                        _ => return Err(bad(k, v, "scale-down, contain, cover, crop, pad or fill")),
                    }
                }
                "gravity" => {
                    o.gravity = match v.as_str() {
                        "center" | "centre" => Gravity::Center,
                        "top" => Gravity::Top,
                        "bottom" => Gravity::Bottom,
                        "left" => Gravity::Left,
                        "right" => Gravity::Right,
                        "auto" => Gravity::Auto,
                        _ => return Err(bad(k, v, "center, top, bottom, left, right or auto")),
                    }
                }
                "q" | "quality" => o.quality = number(k, v, 1u8, 100u8)?,
                "f" | "format" => {
                    o.format = Some(match v.as_str() {
                        "auto" => OutFormat::Auto,
                        "jpeg" | "jpg" => OutFormat::Jpeg,
                        "png" => OutFormat::Png,
                        "webp" => OutFormat::Webp,
                        "avif" => OutFormat::Avif,
                        "gif" => OutFormat::Gif,
                        _ => return Err(bad(k, v, "auto, jpeg, png, webp, avif or gif")),
                    })
                }
                "dpr" => o.dpr = number(k, v, 1.0f32, 3.0f32)?,
                "blur" => o.blur = Some(number(k, v, 1.0f32, 250.0f32)?),
                "sharpen" => o.sharpen = Some(number(k, v, 0.0f32, 10.0f32)?),
                "gray" => {
                    o.gray = match v.as_str() {
                        "" | "1" | "true" => true,
                        "0" | "false" => false,
                        _ => return Err(bad(k, v, "true or false")),
                    }
                }
                "rotate" => {
                    o.rotate = match v.as_str() {
                        "0" => 0,
                        "90" => 90,
                        "180" => 180,
                        "270" => 270,
                        _ => return Err(bad(k, v, "90, 180 or 270")),
                    }
                }
                "flip" => {
                    (o.flip_h, o.flip_v) = match v.as_str() {
                        "h" => (true, false),
                        "v" => (false, true),
                        "hv" | "vh" => (true, true),
                        _ => return Err(bad(k, v, "h, v or hv")),
                    }
                }
                "background" | "bg" => o.background = parse_color(v).ok_or_else(|| bad(k, v, "a colour such as ffffff, #000, white or transparent"))?,
                _ => {} // `sig` is checked by the guard
            }
        }
        Ok(any.then_some(o))
    }

    /// Width and height after `dpr`, capped at [`MAX_SIDE`].
    pub fn target(&self) -> (Option<u32>, Option<u32>) {
        let scale = |v: u32| ((v as f32 * self.dpr).round() as u32).clamp(1, MAX_SIDE);
        (self.width.map(scale), self.height.map(scale))
    }

    /// A canonical name for this transform with a resolved output format: the same image asked
    /// for with `width=` or `w=`, in any order, is stored once.
    pub fn key(&self, format: OutFormat) -> String {
        let (w, h) = self.target();
        let mut k = format!(
            "w{}-h{}-{:?}-{:?}-q{}-r{}-f{}{}",
            w.unwrap_or(0),
            h.unwrap_or(0),
            self.fit,
            self.gravity,
            self.quality,
            self.rotate,
            u8::from(self.flip_h),
            u8::from(self.flip_v)
        )
        .to_lowercase();
        if let Some(b) = self.blur {
            k.push_str(&format!("-blur{b}"));
        }
        if let Some(s) = self.sharpen {
            k.push_str(&format!("-sharpen{s}"));
        }
        if self.gray {
            k.push_str("-gray");
        }
        if self.fit == Fit::Pad {
            k.push_str(&format!("-bg{}", crate::base::ids::hex(&self.background)));
        }
        if let Some(m) = &self.watermark {
            k.push_str(&m.key());
        }
        format!("{k}.{}", format.name())
    }
}

/// A colour as `background=` and the placeholders' `bg=`/`fg=` take it: `rgb`, `rrggbb`,
/// `rrggbbaa` (a `#` is allowed), `white`, `black` or `transparent`.
pub fn parse_color(v: &str) -> Option<[u8; 4]> {
    match v.trim().to_ascii_lowercase().as_str() {
        "white" => return Some([255, 255, 255, 255]),
        "black" => return Some([0, 0, 0, 255]),
        "transparent" => return Some([0, 0, 0, 0]),
        _ => {}
    }
    let hex = v.trim().trim_start_matches('#');
    let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 1)?, 16).ok();
    let pair = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    match hex.len() {
        3 => Some([digit(0)? * 17, digit(1)? * 17, digit(2)? * 17, 255]),
        6 => Some([pair(0)?, pair(2)?, pair(4)?, 255]),
        8 => Some([pair(0)?, pair(2)?, pair(4)?, pair(6)?]),
        _ => None,
    }
}

/// Resolves `f=auto` (or no `f`) from `Accept`: WebP where the client takes it, else PNG for
/// images with transparency and JPEG for the rest.
pub fn negotiate(requested: Option<OutFormat>, accept: &str, source_has_alpha: bool, source: Option<OutFormat>) -> OutFormat {
    match requested {
        Some(OutFormat::Auto) => {
            if accept.contains("image/webp") {
                OutFormat::Webp
            } else if source_has_alpha {
                OutFormat::Png
            } else {
                OutFormat::Jpeg
            }
        }
        Some(f) => f,
        None => match source {
            Some(f) => f,
            None if source_has_alpha => OutFormat::Png,
            None => OutFormat::Jpeg,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Option<Options>, ApiError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        Options::parse(&pairs, &["mode"])
    }

    #[test]
    fn no_parameters_no_transform() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("mode=json").unwrap(), None);
    }

    #[test]
    fn aliases_normalise_to_one_key() {
        let a = parse("width=800&quality=70&format=webp").unwrap().unwrap();
        let b = parse("f=webp&q=70&w=800").unwrap().unwrap();
        assert_eq!(a.key(OutFormat::Webp), b.key(OutFormat::Webp));
        assert_eq!(a.key(OutFormat::Webp), "w800-h0-scaledown-center-q70-r0-f00.webp");
    }

    #[test]
    fn dpr_scales_the_target() {
        let o = parse("w=400&h=300&dpr=2").unwrap().unwrap();
        assert_eq!(o.target(), (Some(800), Some(600)));
        assert_eq!(parse("w=8000&dpr=3").unwrap().unwrap().target(), (Some(8192), None));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (q, name) in [
            ("w=0", "w="),
            ("w=abc", "w="),
            ("height=9000", "height="),
            ("fit=stretch", "fit="),
            ("q=101", "q="),
            ("f=tiff", "f="),
            ("dpr=4", "dpr="),
            ("blur=300", "blur="),
            ("rotate=45", "rotate="),
            ("flip=x", "flip="),
            ("background=zz", "background="),
            ("gravity=north", "gravity="),
            ("size=3", "\"size\""),
        ] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.status, 400, "{q}");
            assert!(e.message.contains(name), "{q}: {}", e.message);
        }
    }

    #[test]
    fn colours() {
        assert_eq!(parse_color("#fff"), Some([255, 255, 255, 255]));
        assert_eq!(parse_color("102030"), Some([16, 32, 48, 255]));
        assert_eq!(parse_color("transparent"), Some([0, 0, 0, 0]));
        assert_eq!(parse_color("#12"), None);
    }

    #[test]
    fn auto_format_follows_accept() {
        let chrome = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
        assert_eq!(negotiate(Some(OutFormat::Auto), chrome, false, None), OutFormat::Webp);
        assert_eq!(negotiate(Some(OutFormat::Auto), "image/*", false, None), OutFormat::Jpeg);
        assert_eq!(negotiate(Some(OutFormat::Auto), "image/*", true, None), OutFormat::Png);
        assert_eq!(negotiate(None, chrome, false, Some(OutFormat::Png)), OutFormat::Png);
    }
}
