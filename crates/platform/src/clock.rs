//! Time as an input: the system clock, or one the tests set. `--clock-file` names a file holding
//! an RFC 3339 instant, re-read at every tick so a test can move time forward without a restart;
//! `--now` fixes one instant.

use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// Where "now" comes from.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The machine's clock.
    System,
    /// A fixed instant.
    Fixed(DateTime<Utc>),
    /// An instant read from a file at each call (tests).
    File(PathBuf),
}

impl Clock {
    /// `--clock-file` (`GONGSHI_CLOCK_FILE`), else `--now` (`GONGSHI_NOW`), else the system clock.
    pub fn from_config(config: &crate::CommonConfig) -> anyhow::Result<Clock> {
        if let Some(path) = &config.clock_file {
            return Ok(Clock::File(path.clone()));
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
            Clock::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
                .map_or_else(
                    || {
                        tracing::warn!(path = %path.display(), message = "clock file unreadable; using the system clock");
                        Utc::now()
                    },
                    |t| t.with_timezone(&Utc),
                ),
        }
    }
}
