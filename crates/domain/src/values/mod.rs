//! Typed wire values: date-times, amounts, text folding. Each parser takes the platform's text and
//! returns the canonical value or a reason an operator can read.

pub mod amount;
pub mod datetime;
pub mod text;
