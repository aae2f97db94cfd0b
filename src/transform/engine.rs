//! Which engine makes a variant, and the request Cloudflare Images gets.
//!
//! Cloudflare Images (the `[images]` binding) transforms outside the isolate: a new variant
//! costs no Worker CPU and no wasm memory, and it writes AVIF. The wasm pipeline needs no
//! binding and reads BMP and ICO. Both are given the same sizes: the output size is planned
//! here ([`super::geometry`]) and Images is asked for exactly that, so a variant's dimensions
//! do not depend on the engine that made it.

use super::geometry;
use super::options::{Fit, Gravity, Options, OutFormat};
use crate::base::error::ApiError;
use crate::config::Engine;
use crate::sniff::Format;
use serde_json::{json, Value};

/// The engine for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Images,
    Wasm,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Images => "images",
            Which::Wasm => "wasm",
        }
    }
}

/// Picks the engine: the setting, whether a binding is there, and what each can read and write
/// (Images reads neither BMP nor ICO and is not asked for GIF; the wasm pipeline writes no AVIF).
pub fn choose(setting: Engine, bound: bool, source: Format, format: OutFormat) -> Result<Which, ApiError> {
    let images_can = !matches!(source, Format::Bmp | Format::Ico) && format != OutFormat::Gif;
    let which = match setting {
        Engine::Wasm => Which::Wasm,
        Engine::Images if !bound => {
            return Err(ApiError::new(500, "bad_config", "TRANSFORM_ENGINE=images needs an [images] binding in wrangler.toml"));
        }
        Engine::Images | Engine::Auto if bound && images_can => Which::Images,
        Engine::Images | Engine::Auto => Which::Wasm,
    };
    if which == Which::Wasm && format == OutFormat::Avif {
        return Err(ApiError::bad_request(
            "bad_parameter",
            "format=avif is made by Cloudflare Images only (an [images] binding and TRANSFORM_ENGINE=auto or images): use webp or jpeg",
        ));
    }
    Ok(which)
}

/// The binding's `transform` and `output` options for an image of `size` (as displayed).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub transform: Value,
    pub output: Value,
    /// A watermark to `draw` over the output: a PNG and where it goes.
    pub draw: Option<(Vec<u8>, Value)>,
}

pub fn spec(size: (u32, u32), opts: &Options, format: OutFormat) -> Spec {
    let turned = if opts.rotate == 90 || opts.rotate == 270 { (size.1, size.0) } else { size };
    let (w, h) = opts.target();
    let (ow, oh) = geometry::plan(turned, w, h, opts.fit).output();
    let mut t = json!({ "width": ow, "height": oh });
    // The size is exact already: "squeeze" keeps it; cover and pad decide what fills it.
    t["fit"] = json!(match opts.fit {
        Fit::Cover | Fit::Crop => "cover",
        Fit::Pad => "pad",
        Fit::ScaleDown | Fit::Contain | Fit::Fill => "squeeze",
    });
    t["gravity"] = json!(match opts.gravity {
        Gravity::Center => "center",
        Gravity::Top => "top",
        Gravity::Bottom => "bottom",
        Gravity::Left => "left",
        Gravity::Right => "right",
        Gravity::Auto => "auto",
    });
    if opts.rotate != 0 {
        t["rotate"] = json!(opts.rotate);
    }
    match (opts.flip_h, opts.flip_v) {
        (true, true) => t["flip"] = json!("hv"),
        (true, false) => t["flip"] = json!("h"),
        (false, true) => t["flip"] = json!("v"),
        (false, false) => {}
    }
    if let Some(b) = opts.blur {
        t["blur"] = json!(b);
    }
    if let Some(s) = opts.sharpen {
        t["sharpen"] = json!(s);
    }
    if opts.gray {
        t["saturation"] = json!(0);
    }
    if opts.fit == Fit::Pad {
        let [r, g, b, a] = opts.background;
        t["background"] = json!(format!("rgba({r},{g},{b},{:.3})", a as f32 / 255.0));
    }
    let draw = opts.watermark.as_ref().map(|m| m.overlay((ow, oh), opts.watermark_logo.as_deref()));
    Spec { transform: t, output: json!({ "format": format.mime(), "quality": opts.quality }), draw }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &str) -> Options {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        Options::parse(&pairs, &[]).unwrap().unwrap()
    }

    #[test]
    fn the_setting_and_the_binding_decide() {
        use Format::*;
        assert_eq!(choose(Engine::Auto, true, Jpeg, OutFormat::Webp).unwrap(), Which::Images);
        assert_eq!(choose(Engine::Auto, false, Jpeg, OutFormat::Webp).unwrap(), Which::Wasm);
        assert_eq!(choose(Engine::Wasm, true, Jpeg, OutFormat::Webp).unwrap(), Which::Wasm);
        assert_eq!(choose(Engine::Auto, true, Bmp, OutFormat::Png).unwrap(), Which::Wasm, "Images does not read BMP");
        assert_eq!(choose(Engine::Images, true, Png, OutFormat::Gif).unwrap(), Which::Wasm, "nor is it asked for GIF");
        assert_eq!(choose(Engine::Auto, true, Png, OutFormat::Avif).unwrap(), Which::Images);
        assert_eq!(choose(Engine::Wasm, true, Png, OutFormat::Avif).unwrap_err().status, 400);
        assert_eq!(choose(Engine::Images, false, Png, OutFormat::Webp).unwrap_err().code, "bad_config");
    }

    #[test]
    fn images_is_asked_for_the_planned_size() {
        // 4000×3000 into 800 wide: 800×600, whatever the fit.
        assert_eq!(spec((4000, 3000), &opts("w=800"), OutFormat::Webp).transform["height"], 600);
        let s = spec((4000, 3000), &opts("w=400&h=400&fit=contain"), OutFormat::Avif);
        assert_eq!((s.transform["width"].as_u64(), s.transform["height"].as_u64()), (Some(400), Some(300)));
        assert_eq!(s.output, json!({"format": "image/avif", "quality": 80}));
        let s = spec((4000, 3000), &opts("w=300&h=300&fit=cover&gravity=top&rotate=90&blur=5&gray=1"), OutFormat::Jpeg);
        assert_eq!(s.transform, json!({"width": 300, "height": 300, "fit": "cover", "gravity": "top", "rotate": 90, "blur": 5.0, "saturation": 0}));
        // Never larger than the source with scale-down; dpr scales the target.
        assert_eq!(spec((640, 480), &opts("w=2000"), OutFormat::Png).transform["width"], 640);
        assert_eq!(spec((4000, 3000), &opts("w=200&dpr=2"), OutFormat::Png).transform["width"], 400);
        let pad = spec((400, 300), &opts("w=500&h=500&fit=pad&bg=000"), OutFormat::Png).transform;
        assert_eq!((pad["fit"].as_str(), pad["background"].as_str()), (Some("pad"), Some("rgba(0,0,0,1.000)")));
    }
}
