//! Output geometry for each `fit` mode (Cloudflare Images' meanings), as pure arithmetic:
//! what size to resize to, then what to crop to or pad to.

use super::options::Fit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Size after resizing (equal to the source when nothing is resized).
    pub resize: (u32, u32),
    /// Crop the resized image to this size (gravity decides where).
    pub crop: Option<(u32, u32)>,
    /// Place the resized image on a canvas of this size (gravity decides where).
    pub pad: Option<(u32, u32)>,
}

impl Plan {
    pub fn output(&self) -> (u32, u32) {
        self.pad.or(self.crop).unwrap_or(self.resize)
    }
}

fn round(v: f64) -> u32 {
    (v.round() as u32).max(1)
}

/// Plans the output of a `source`-sized image for target `w`×`h` (either may be absent).
pub fn plan(source: (u32, u32), w: Option<u32>, h: Option<u32>, fit: Fit) -> Plan {
    let (sw, sh) = (source.0 as f64, source.1 as f64);
    let keep = Plan { resize: source, crop: None, pad: None };
    let (tw, th) = match (w, h) {
        (None, None) => return keep,
        (Some(w), Some(h)) => (w as f64, h as f64),
        // One side given: every mode scales to it keeping the aspect ratio.
        (Some(w), None) => {
            let s = w as f64 / sw;
            if s >= 1.0 && matches!(fit, Fit::ScaleDown | Fit::Crop) {
                return keep;
            }
            return Plan { resize: (w, round(sh * s)), crop: None, pad: None };
        }
        (None, Some(h)) => {
            let s = h as f64 / sh;
            if s >= 1.0 && matches!(fit, Fit::ScaleDown | Fit::Crop) {
                return keep;
            }
            return Plan { resize: (round(sw * s), h), crop: None, pad: None };
        }
    };
    let (ti, tj) = (tw as u32, th as u32);
    let contain = (tw / sw).min(th / sh);
    let cover = (tw / sw).max(th / sh);
    match fit {
        Fit::Fill => Plan { resize: (ti, tj), crop: None, pad: None },
        Fit::Contain => Plan { resize: (round(sw * contain), round(sh * contain)), crop: None, pad: None },
        Fit::ScaleDown if contain >= 1.0 => keep,
        Fit::ScaleDown => Plan { resize: (round(sw * contain), round(sh * contain)), crop: None, pad: None },
        Fit::Pad => Plan { resize: (round(sw * contain).min(ti), round(sh * contain).min(tj)), crop: None, pad: Some((ti, tj)) },
        Fit::Cover => {
            let r = (round(sw * cover).max(ti), round(sh * cover).max(tj));
            Plan { resize: r, crop: Some((ti, tj)), pad: None }
        }
        Fit::Crop => {
            let s = cover.min(1.0);
            let r = if s < 1.0 { (round(sw * s).max(ti), round(sh * s).max(tj)) } else { source };
            let c = (ti.min(r.0), tj.min(r.1));
            Plan { resize: r, crop: (c != r).then_some(c), pad: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(src: (u32, u32), w: Option<u32>, h: Option<u32>, fit: Fit) -> (u32, u32) {
        plan(src, w, h, fit).output()
    }

    #[test]
    fn every_fit_mode_and_aspect() {
        let land = (4000, 2000);
        let port = (1000, 2000);
        let small = (200, 100);
        for (src, w, h, fit, expect) in [
            (land, Some(800), Some(800), Fit::ScaleDown, (800, 400)),
            (land, Some(800), Some(800), Fit::Contain, (800, 400)),
            (land, Some(800), Some(800), Fit::Cover, (800, 800)),
            (land, Some(800), Some(800), Fit::Crop, (800, 800)),
            (land, Some(800), Some(800), Fit::Pad, (800, 800)),
            (land, Some(800), Some(800), Fit::Fill, (800, 800)),
            (port, Some(300), Some(300), Fit::ScaleDown, (150, 300)),
            (port, Some(300), Some(300), Fit::Cover, (300, 300)),
            (port, Some(300), Some(900), Fit::Contain, (300, 600)),
            // Never enlarged by scale-down and crop; enlarged by contain, cover, pad, fill.
            (small, Some(400), Some(400), Fit::ScaleDown, (200, 100)),
            (small, Some(400), Some(400), Fit::Crop, (200, 100)),
            (small, Some(400), Some(400), Fit::Contain, (400, 200)),
            (small, Some(400), Some(400), Fit::Cover, (400, 400)),
            (small, Some(400), Some(400), Fit::Pad, (400, 400)),
            (small, Some(400), Some(400), Fit::Fill, (400, 400)),
            // Crop of an image larger on one side only: shrinks nothing, cuts the long side.
            (small, Some(100), Some(400), Fit::Crop, (100, 100)),
            // One side given keeps the aspect ratio.
            (land, Some(1000), None, Fit::Cover, (1000, 500)),
            (land, None, Some(500), Fit::ScaleDown, (1000, 500)),
            (small, Some(400), None, Fit::ScaleDown, (200, 100)),
            (small, Some(400), None, Fit::Contain, (400, 200)),
            (land, None, None, Fit::Cover, (4000, 2000)),
            // Rounding never produces a zero side.
            ((10000, 10), Some(100), None, Fit::ScaleDown, (100, 1)),
        ] {
            assert_eq!(out(src, w, h, fit), expect, "{src:?} {w:?}x{h:?} {fit:?}");
        }
    }

    #[test]
    fn pad_keeps_the_image_inside_the_canvas() {
        let p = plan((4000, 2000), Some(800), Some(800), Fit::Pad);
        assert_eq!(p.resize, (800, 400));
        assert_eq!(p.pad, Some((800, 800)));
    }
}
