//! Outside services as small clients over the [`Http`](crate::platform::upstream::Http) port.

pub mod replicate;
pub mod telegram;
