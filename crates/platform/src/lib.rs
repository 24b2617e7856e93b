//! gongshi's adapters and runtime pieces shared by the services: the Kafka bus (topics, event
//! envelope, idempotent producer, at-least-once consumer), the PostgreSQL store, the HTTP API's
//! error answer, configuration, telemetry and graceful shutdown.

pub mod api_error;
pub mod bus;
pub mod clock;
pub mod config;
pub mod feed_filter;
pub mod http_server;
pub mod search;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod tokens;

pub use api_error::{ApiError, ErrorCode};
pub use bus::{Bus, Envelope, HandlerError};
pub use clock::Clock;
pub use config::CommonConfig;
pub use store::Store;
