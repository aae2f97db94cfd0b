//! The whole application over in-memory storage, one file per feature: what workerd cannot
//! easily stage (outages, blocked images) and the invariants behind "bad input loses nothing".

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod admin;
mod faults;
mod repair;
mod serving;
mod uploads;
