//! `GET /v1/stream`: Server-Sent Events of the feed's entries with the feeds' filters, resumable
//! with `Last-Event-ID` (the clients themselves are in `stream`).

use crate::Gateway;
use crate::routes::{base_url, store_error};
use crate::stream::{Client, events};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::feed_filter::{FeedFilter, FilterParams};
use gongshi_platform::store::feed;
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::StreamClientConnected;
use gongshi_platform::{ApiError, ErrorCode};
use serde::Deserialize;
use std::time::Duration;
use utoipa::IntoParams;

/// Query parameters of `/v1/stream`. (Its parameters are documented as [`FilterParams`] plus
/// its own.)
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Filters (as in search and the feeds).
    #[serde(flatten)]
    #[param(ignore)]
    pub filter: FilterParams,
    /// Resume after this entry (or send the Last-Event-ID header).
    pub last_event_id: Option<String>,
}

/// `GET /v1/stream`.
#[utoipa::path(get, path = "/v1/stream", tag = "feeds",
    params(
        FilterParams,
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this entry")),
    responses(
        (status = 200, description = "Server-Sent Events: one `entry` event per feed entry (id = its sequence), heartbeats as comments", content_type = "text/event-stream", body = String),
        (status = 400, description = "A parameter is malformed", body = ErrorBody)))]
pub(crate) async fn stream(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    let filter = FeedFilter::parse(&q.filter).map_err(ApiError::bad_request)?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.last_event_id)
        .filter(|s| !s.trim().is_empty());
    // Subscribe before reading the store, so nothing committed in between is missed.
    let rx = gw.live.subscribe();
    let head = async {
        let mut conn = gw.store.pool.acquire().await?;
        feed::head(&mut conn).await
    }
    .await
    .map_err(store_error)?;
    let cursor = match resume {
        Some(id) => match id.trim().parse::<i64>() {
            Ok(seq) if (0..=head).contains(&seq) => seq,
            // An id past the newest entry was never sent by this stream (another gateway's
            // database, a restored one): waiting for the feed to reach it would skip every entry
            // up to it in silence.
            Ok(seq) if seq > head => {
                return Err(ApiError::new(
                    ErrorCode::BadLastEventId,
                    format!(
                        "Last-Event-ID: '{id}' 超出本流最新的事件编号 {head}，不是本流给出的 (ahead of the newest id {head}: not an id this stream sent)"
                    ),
                ));
            }
            _ => {
                return Err(ApiError::new(
                    ErrorCode::BadLastEventId,
                    format!(
                        "Last-Event-ID: '{id}' 应为本流给出的事件编号 (an id this stream sent)"
                    ),
                ));
            }
        },
        None => head,
    };
    StreamClientConnected.emit();
    let client = Client::new(
        gw.store.clone(),
        filter,
        base_url(&gw, &headers),
        cursor,
        rx,
        gw.live.shutdown(),
    );
    Ok(Sse::new(events(client))
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(gw.config.stream_heartbeat_secs.max(1)))
                .text("heartbeat"),
        )
        .into_response())
}
