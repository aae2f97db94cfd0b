//! Who may do what: credentials, the admin guard and its lockout, console-made tokens, rate
//! limits and quotas, hotlink protection.

pub mod address;
pub mod auth;
pub mod guard;
pub mod hotlink;
pub mod limits;
pub mod private;
pub mod tokens;
