//! [`MinDataRate`]: how fast a client must send a request body or take a
//! response, once a grace period has passed.
//!
//! ```
//! use std::time::Duration;
//! use gateway_hyper::MinDataRate;
//!
//! // Kestrel's defaults, which this server shares: 240 bytes/s after 5 s.
//! assert_eq!(MinDataRate::default(), MinDataRate::new(240, Duration::from_secs(5)));
//! // Zero bytes per second is no minimum: say `None` to the server instead.
//! assert!(MinDataRate::try_new(0, Duration::from_secs(5)).is_err());
//! ```

use std::fmt;
use std::time::Duration;

/// A minimum data rate in bytes per second, enforced once a grace period
/// has passed (ASP.NET Kestrel's `MinDataRate`): see
/// [`Server::min_request_body_rate`](crate::Server::min_request_body_rate)
/// and [`Server::min_response_rate`](crate::Server::min_response_rate) for
/// how each direction measures it. Defaults to 240 bytes per second after
/// a grace period of 5 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MinDataRate {
    bytes_per_second: u64,
    grace: Duration,
}

impl MinDataRate {
    /// At least `bytes_per_second` on average, once `grace` has passed.
    ///
    /// # Panics
    ///
    /// If `bytes_per_second` is 0 (no minimum: pass `None` to the server
    /// instead). [`MinDataRate::try_new`] returns the error instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rate = gateway_hyper::MinDataRate::new(1024, Duration::from_secs(10));
    /// assert_eq!(rate.bytes_per_second(), 1024);
    /// assert_eq!(rate.grace(), Duration::from_secs(10));
    /// ```
    #[track_caller]
    pub const fn new(bytes_per_second: u64, grace: Duration) -> MinDataRate {
        match MinDataRate::try_new(bytes_per_second, grace) {
            Ok(rate) => rate,
            Err(_) => panic!(
                "MinDataRate::new: 0 bytes per second is no minimum; pass None to the server instead"
            ),
        }
    }

    /// [`MinDataRate::new`], or an error if `bytes_per_second` is 0.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gateway_hyper::MinDataRate;
    /// assert!(MinDataRate::try_new(1, Duration::ZERO).is_ok());
    /// let err = MinDataRate::try_new(0, Duration::from_secs(5)).unwrap_err();
    /// assert!(err.to_string().contains("at least 1 byte per second"));
    /// ```
    pub const fn try_new(
        bytes_per_second: u64,
        grace: Duration,
    ) -> Result<MinDataRate, InvalidMinDataRate> {
        if bytes_per_second == 0 {
            return Err(InvalidMinDataRate { _private: () });
        }
        Ok(MinDataRate {
            bytes_per_second,
            grace,
        })
    }

    /// The minimum, in bytes per second.
    pub const fn bytes_per_second(&self) -> u64 {
        self.bytes_per_second
    }

    /// How long the rate is not enforced at first, to let a transfer get
    /// going.
    pub const fn grace(&self) -> Duration {
        self.grace
    }

    /// How long `bytes` may take at this rate.
    pub(crate) fn time_for(&self, bytes: u64) -> Duration {
        let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(self.bytes_per_second);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Far enough never to come, near enough not to overflow an `Instant`.
pub(crate) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl Default for MinDataRate {
    fn default() -> MinDataRate {
        MinDataRate::new(240, Duration::from_secs(5))
    }
}

/// The error of [`MinDataRate::try_new`]: a rate of 0 bytes per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidMinDataRate {
    _private: (),
}

impl fmt::Display for InvalidMinDataRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a minimum data rate must be at least 1 byte per second (pass None for no minimum)",
        )
    }
}

impl std::error::Error for InvalidMinDataRate {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_for_bytes() {
        let rate = MinDataRate::new(240, Duration::from_secs(5));
        assert_eq!(rate.time_for(240), Duration::from_secs(1));
        assert_eq!(rate.time_for(120), Duration::from_millis(500));
        assert_eq!(rate.time_for(0), Duration::ZERO);
        // No overflow at the extremes.
        let slowest = MinDataRate::new(1, Duration::ZERO);
        assert_eq!(slowest.time_for(u64::MAX), Duration::from_nanos(u64::MAX));
    }

    #[test]
    #[should_panic(expected = "pass None to the server instead")]
    fn zero_bytes_per_second_panics_with_a_clear_message() {
        let _ = MinDataRate::new(0, Duration::from_secs(1));
    }
}
