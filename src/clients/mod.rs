//! One file per client protocol: Telegraph-Image (`/upload`), the Telegram bot, PicGo/PicList, Lsky Pro (v1), SM.MS (v2), Chevereto (v1),
//! ShareX, WebDAV (`/dav`), the token API (`/api/images`) and delete links.

pub mod bot;
pub mod chevereto;
pub mod dav;
pub mod delete;
pub mod images;
pub mod lsky;
pub mod picgo;
pub mod sharex;
pub mod smms;
pub mod telegraph;
