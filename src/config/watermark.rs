//! The watermark's settings (`WATERMARK_*`): what, where, how large, how opaque. Drawing it
//! is [`crate::transform::watermark`]'s.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    TopLeft,
    Top,
    TopRight,
    Left,
    Center,
    Right,
    BottomLeft,
    Bottom,
    BottomRight,
}

impl Position {
    pub const NAMES: [&'static str; 9] = ["top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"];

    pub fn parse(s: &str) -> Option<Position> {
        use Position::*;
        let all = [TopLeft, Top, TopRight, Left, Center, Right, BottomLeft, Bottom, BottomRight];
        Position::NAMES.iter().position(|n| n.eq_ignore_ascii_case(s.trim())).map(|i| all[i])
    }

    /// (horizontal, vertical): 0 start, 1 middle, 2 end.
    pub fn grid(self) -> (u8, u8) {
        use Position::*;
        match self {
            TopLeft => (0, 0),
            Top => (1, 0),
            TopRight => (2, 0),
            Left => (0, 1),
            Center => (1, 1),
            Right => (2, 1),
            BottomLeft => (0, 2),
            Bottom => (1, 2),
            BottomRight => (2, 2),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Lettered when there is no image (`WATERMARK_TEXT`).
    pub text: String,
    /// The id of an image to mark with instead (`WATERMARK_IMAGE`, e.g. a PNG logo).
    pub image: Option<String>,
    pub position: Position,
    /// Width of the mark, per cent of the picture's width.
    pub size: u8,
    pub opacity: f32,
}
