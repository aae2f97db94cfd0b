//! The index store (strongly consistent, a SQLite Durable Object): the catalog the console
//! lists, the random pools, variant reservations, generation leases, quotas, sessions, tokens.

pub mod albums;
pub mod catalog;
pub mod drive;
pub mod leases;
pub mod pools;
pub mod record;
pub mod sql;
pub mod store;
