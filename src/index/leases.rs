//! Generation leases for placeholders made by an image model: at most one generation per key
//! at a time, and a daily count, in the strongly consistent store.

use crate::index::pools::PoolTable;
use serde::{Deserialize, Serialize};

/// What the coordinator says to a request that finds no stored placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "claim", rename_all = "snake_case")]
pub enum Claim {
    /// Generate it; nobody else is.
    Granted,
    /// Another request is generating it right now.
    Busy,
    /// It was generated already (KV may not show it here yet).
    Done { id: String },
    /// Today's generations are used up until `reset_ms`.
    OverLimit { reset_ms: u64 },
}

const DAY_MS: u64 = 86_400_000;

/// One step in the strongly consistent store (the Durable Object): at most one generation per
/// key at a time, a lease that expires if its request dies, and a daily count. `replace` (the
/// admin's `?regenerate=1`) ignores a finished generation.
pub fn claim<T: PoolTable>(t: &T, key: &str, now_ms: u64, lease_ms: u64, daily_limit: u64, replace: bool) -> Result<Claim, T::Error> {
    match t.lease(key)? {
        Some((_, Some(id))) if !replace => return Ok(Claim::Done { id }),
        Some((until, None)) if until > now_ms => return Ok(Claim::Busy),
        _ => {}
    }
    let day = now_ms / DAY_MS;
    let used = t.day_count(day)?;
    if used >= daily_limit {
        return Ok(Claim::OverLimit { reset_ms: (day + 1) * DAY_MS });
    }
    t.set_day_count(day, used + 1)?;
    t.set_lease(key, now_ms + lease_ms, None)?;
    Ok(Claim::Granted)
}

/// Records the image a granted generation made, or frees the key after a failure.
pub fn settle<T: PoolTable>(t: &T, key: &str, id: Option<&str>) -> Result<(), T::Error> {
    match id {
        Some(id) => t.set_lease(key, 0, Some(id)),
        None => t.delete_lease(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_generation_per_key_a_lease_that_expires_and_a_daily_limit() {
        let t = crate::adapters::memory::MemoryPool::default();
        let now = 10 * DAY_MS + 5;
        assert_eq!(claim(&t, "k", now, 1000, 2, false).unwrap(), Claim::Granted);
        assert_eq!(claim(&t, "k", now + 10, 1000, 2, false).unwrap(), Claim::Busy);
        // The first request died: its lease runs out and another may try (the second today).
        assert_eq!(claim(&t, "k", now + 2000, 1000, 2, false).unwrap(), Claim::Granted);
        settle(&t, "k", Some("img1")).unwrap();
        assert_eq!(claim(&t, "k", now + 3000, 1000, 2, false).unwrap(), Claim::Done { id: "img1".into() });
        assert_eq!(claim(&t, "other", now, 1000, 2, false).unwrap(), Claim::OverLimit { reset_ms: 11 * DAY_MS });
        assert_eq!(claim(&t, "other", 11 * DAY_MS, 1000, 2, false).unwrap(), Claim::Granted);
        settle(&t, "other", None).unwrap();
        assert_eq!(claim(&t, "other", 11 * DAY_MS + 1, 1000, 2, false).unwrap(), Claim::Granted);
    }
}
