//! The period engine: the legal clock. Given what is known of a notice's procedures and the time
//! now, decide whether it is published, held, parked or rejected, with evidence, and compute the
//! windows bidders need (`documents`, `bid`, `listing`, `publicity`, `announcement`, `challenge`).
//! Pure and deterministic: state in, verdict out; time is an argument.

pub mod calendar;
mod checks;
pub mod clocks;
pub mod counting;
mod engine;
mod extension;
pub mod in_force;
mod ledger;
mod state;

pub use calendar::{Calendar, UnknownYear};
pub use checks::{CHECKS, parent_of};
pub use clocks::{Basis, Clock, Standing, clocks};
pub use engine::{Engine, Outcome, Verdict};
pub use extension::extended_listing;
pub use in_force::{InForce, Setting, WindowsInForce, windows_in_force};
pub use ledger::{
    Judged, Ledger, judge_into, procedure_keys, releases_parked, stage_status, waits,
};
pub use state::{ProcedureState, Stage, StageStatus};

use crate::values::datetime::Instant;
use serde::{Deserialize, Serialize};

/// A legal window: from `start` to `end` (RFC 3339, +08:00 when serialised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// When it opens.
    pub start: Instant,
    /// When it closes.
    pub end: Instant,
}
