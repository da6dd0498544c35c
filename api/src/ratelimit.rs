//! Fixed-window attempt counters for sign-in and code routes, keyed by
//! whatever the route chooses (an address, an account). In memory: each API
//! process counts its own attempts, so N processes allow N times the limit.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::error::ApiError;

#[derive(Clone)]
pub struct RateLimiter {
    windows: Cache<String, Arc<Mutex<(Instant, u32)>>>,
}

impl RateLimiter {
    pub fn new(longest_window: Duration) -> Self {
        RateLimiter {
            windows: Cache::builder().max_capacity(200_000).time_to_idle(longest_window * 2).build(),
        }
    }

    /// Counts one attempt under `key`; refuses it when `max` were already made
    /// in the current `window`, saying how long until the window ends.
    pub fn hit(&self, key: &str, max: u32, window: Duration) -> Result<(), ApiError> {
        let slot = self.windows.get_with(key.to_string(), || Arc::new(Mutex::new((Instant::now(), 0))));
        let mut w = slot.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if now.duration_since(w.0) >= window {
            *w = (now, 0);
        }
        if w.1 >= max {
            let left = window.saturating_sub(now.duration_since(w.0));
            return Err(ApiError::too_many(left.as_secs().max(1)));
        }
        w.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attempt_after_the_limit_is_refused_until_the_window_ends() {
        let r = RateLimiter::new(Duration::from_secs(1));
        let w = Duration::from_millis(200);
        for _ in 0..3 {
            r.hit("ip:1.2.3.4", 3, w).unwrap();
        }
        let e = r.hit("ip:1.2.3.4", 3, w).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(e.retry_after.unwrap() >= 1);
        r.hit("ip:5.6.7.8", 3, w).unwrap();
        std::thread::sleep(w);
        r.hit("ip:1.2.3.4", 3, w).unwrap();
    }
}
