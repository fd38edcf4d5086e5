//! The server's resident memory over the run, and whether it stayed flat.
//!
//! Samples are `VmRSS` from `/proc/<pid>/status`. The warm-up is the first
//! fifth of the run, at least a minute (or half the run, if shorter): the
//! caches fill and the allocator finds its size then. After it, memory is
//! flat when every sample is within ±[`FLAT_TOLERANCE`] of the mean of
//! the samples after the warm-up: no steady growth (the last samples
//! would sit above the band) and no spike.

use std::time::Duration;

/// How far from the mean after the warm-up a sample may be.
pub const FLAT_TOLERANCE: f64 = 0.10;

/// One sample: when (since the run began) and the RSS in KiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: Duration,
    pub rss_kib: u64,
}

/// The warm-up of a run of `duration`.
pub fn warm_up(duration: Duration) -> Duration {
    (duration / 5).max(Duration::from_secs(60).min(duration / 2))
}

/// What the samples after the warm-up say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The last sample of the warm-up (or the first sample, if none).
    pub warm: u64,
    /// The first and last samples after the warm-up.
    pub first: u64,
    pub last: u64,
    pub min: u64,
    pub max: u64,
    pub mean: f64,
    /// The largest distance of a sample from the mean, as a fraction of it.
    pub deviation: f64,
    /// Samples after the warm-up.
    pub samples: usize,
}

impl Verdict {
    /// Whether every sample is within the tolerance.
    pub fn flat(&self) -> bool {
        self.samples > 0 && self.deviation <= FLAT_TOLERANCE
    }
}

/// Judges `samples` of a run with this `warm_up`; `None` without samples
/// after it.
pub fn judge(samples: &[Sample], warm_up: Duration) -> Option<Verdict> {
    let (during, after): (Vec<&Sample>, Vec<&Sample>) =
        samples.iter().partition(|s| s.at < warm_up);
    let first = after.first()?;
    let last = after.last()?;
    let rss = || after.iter().map(|s| s.rss_kib);
    let mean = rss().sum::<u64>() as f64 / after.len() as f64;
    let deviation = rss()
        .map(|r| (r as f64 - mean).abs() / mean.max(1.0))
        .fold(0.0, f64::max);
    Some(Verdict {
        warm: during.last().unwrap_or(first).rss_kib,
        first: first.rss_kib,
        last: last.rss_kib,
        min: rss().min().unwrap_or(0),
        max: rss().max().unwrap_or(0),
        mean,
        deviation,
        samples: after.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rss: &[u64]) -> Vec<Sample> {
        rss.iter()
            .enumerate()
            .map(|(i, &rss_kib)| Sample {
                at: Duration::from_secs(10 * i as u64),
                rss_kib,
            })
            .collect()
    }

    #[test]
    fn the_warm_up_is_a_fifth_and_at_least_a_minute_or_half() {
        assert_eq!(warm_up(Duration::from_secs(1800)), Duration::from_secs(360));
        assert_eq!(warm_up(Duration::from_secs(180)), Duration::from_secs(60));
        assert_eq!(warm_up(Duration::from_secs(60)), Duration::from_secs(30));
        assert_eq!(warm_up(Duration::from_secs(20)), Duration::from_secs(10));
    }

    #[test]
    fn growth_during_the_warm_up_is_fine_and_after_it_is_not() {
        // Samples every 10 s; the warm-up is the first 30 s.
        let warm = Duration::from_secs(30);
        let settled = judge(&run(&[10, 20, 30, 40, 41, 39, 40, 40]), warm).unwrap();
        assert!(settled.flat(), "{settled:?}");
        assert_eq!((settled.warm, settled.first, settled.last), (30, 40, 40));
        assert_eq!((settled.min, settled.max, settled.samples), (39, 41, 5));

        let growing = judge(&run(&[10, 20, 30, 40, 44, 48, 52, 56]), warm).unwrap();
        assert!(!growing.flat(), "{growing:?}");
        let spike = judge(&run(&[10, 20, 30, 40, 40, 60, 40, 40]), warm).unwrap();
        assert!(!spike.flat(), "{spike:?}");
        assert_eq!(judge(&run(&[10, 20, 30]), warm), None);
    }
}
