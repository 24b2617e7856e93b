//! Time as an input: the system clock, or one the tests set. `--clock-file` names a file holding
//! an RFC 3339 instant, re-read at every tick so a test can move time forward without a restart
//! (write it by renaming a complete file over it: a half-written file reads as the last instant);
//! `--now` fixes one instant.

use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where "now" comes from.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The machine's clock.
    System,
    /// A fixed instant.
    Fixed(DateTime<Utc>),
    /// An instant read from a file at each call (tests), with the last instant read from it.
    File(PathBuf, Arc<Mutex<Option<DateTime<Utc>>>>),
}

impl Clock {
    /// `--clock-file` (`GONGSHI_CLOCK_FILE`), else `--now` (`GONGSHI_NOW`), else the system clock.
    pub fn from_config(config: &crate::CommonConfig) -> anyhow::Result<Clock> {
        if let Some(path) = &config.clock_file {
            return Ok(Clock::File(path.clone(), Arc::default()));
        }
        if let Some(now) = &config.now {
            let instant = gongshi_domain::values::datetime::parse(
                now,
                gongshi_domain::values::datetime::DateOnly::StartOfDay,
            )
            .map_err(|e| anyhow::anyhow!("GONGSHI_NOW: {e}"))?;
            return Ok(Clock::Fixed(instant.with_timezone(&Utc)));
        }
        Ok(Clock::System)
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
            Clock::File(path, last) => {
                let read = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
                    .map(|t| t.with_timezone(&Utc));
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                match (read, *last) {
                    (Some(t), _) => {
                        *last = Some(t);
                        t
                    }
                    // Caught mid-write: time stands where it was, rather than jumping years to the
                    // machine's clock and firing every timer at once.
                    (None, Some(t)) => t,
                    (None, None) => {
                        tracing::warn!(path = %path.display(), message = "clock file unreadable; using the system clock");
                        Utc::now()
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_file_caught_mid_write_keeps_the_last_instant() {
        let dir = std::env::temp_dir().join(format!("gongshi-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch clock file");
        let path = dir.join("now");
        std::fs::write(&path, "2025-03-22T10:00:00+08:00").expect("scratch clock file");
        let clock = Clock::File(path.clone(), Arc::default());
        let first = clock.now();
        assert_eq!(first.to_rfc3339(), "2025-03-22T02:00:00+00:00");
        // Truncated by a writer, then half written.
        for torn in ["", "2025-03-2"] {
            std::fs::write(&path, torn).expect("scratch clock file");
            assert_eq!(clock.now(), first, "{torn:?}");
        }
        std::fs::write(&path, "2025-04-01T09:31:00+08:00").expect("scratch clock file");
        assert_eq!(clock.now().to_rfc3339(), "2025-04-01T01:31:00+00:00");
        std::fs::remove_dir_all(&dir).expect("scratch clock file");
    }
}
