//! Graceful shutdown: one token cancelled on SIGINT or SIGTERM; consumers stop between messages;
//! a [`Supervisor`] gives the process's tasks a deadline to stop, then aborts the rest.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::telemetry::InternalEvent as _;
use crate::telemetry::events::TasksAborted;

/// A token cancelled when the process receives SIGINT or SIGTERM.
pub fn on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            () = term => {}
        }
        tracing::info!(message = "shutdown requested");
        trigger.cancel();
    });
    token
}

/// Long-lived tasks of one process, each with a name, stopped together: the first failure
/// cancels the token, and once the token is cancelled the tasks get `deadline` to return before
/// the rest are aborted.
#[derive(Debug, Default)]
pub struct Supervisor {
    tasks: JoinSet<anyhow::Result<()>>,
    names: HashMap<tokio::task::Id, &'static str>,
}

impl Supervisor {
    /// An empty supervisor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` under `name` (the name appears in the logs when it fails or is aborted).
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let handle = self.tasks.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Waits for every task. A task that fails (or panics) cancels `token`, so the others stop
    /// too; a task that returns cleanly does so because of shutdown, and cancels it as well. Once
    /// `token` is cancelled, tasks still running after `deadline` are aborted (a
    /// [`TasksAborted`] event names them). Returns the first failure.
    pub async fn run(mut self, token: CancellationToken, deadline: Duration) -> anyhow::Result<()> {
        let mut first_error = None;
        // Until cancellation: wait for tasks to end, or for the token.
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                joined = self.tasks.join_next_with_id() => match joined {
                    Some(joined) => {
                        self.record(joined, &mut first_error);
                        token.cancel();
                    }
                    None => return first_error.map_or(Ok(()), Err),
                },
            }
        }
        // After cancellation: the remaining tasks get `deadline` to return.
        let drained = tokio::time::timeout(deadline, async {
            while let Some(joined) = self.tasks.join_next_with_id().await {
                self.record(joined, &mut first_error);
            }
        })
        .await;
        if drained.is_err() {
            let mut names: Vec<&str> = self.names.values().copied().collect();
            names.sort_unstable();
            TasksAborted {
                tasks: &names,
                deadline,
            }
            .emit();
            self.tasks.abort_all();
            // Aborted tasks end at their next await; collect them so nothing outlives us.
            while self.tasks.join_next().await.is_some() {}
        }
        first_error.map_or(Ok(()), Err)
    }

    fn record(
        &mut self,
        joined: Result<(tokio::task::Id, anyhow::Result<()>), tokio::task::JoinError>,
        first_error: &mut Option<anyhow::Error>,
    ) {
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(e) => (e.id(), Err(anyhow::anyhow!("task panicked: {e}"))),
        };
        let task = self.names.remove(&id).unwrap_or("task");
        if let Err(e) = result {
            tracing::error!(task, error = %format!("{e:#}"), message = "a service stopped; stopping the others");
            first_error.get_or_insert(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_ignores_cancellation_is_aborted_after_the_deadline() {
        let token = CancellationToken::new();
        let mut supervisor = Supervisor::new();
        let t = token.clone();
        supervisor.spawn("polite", async move {
            t.cancelled().await;
            Ok(())
        });
        let stubborn_ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stubborn_ended.clone();
        supervisor.spawn("stubborn", async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        let started = tokio::time::Instant::now();
        token.cancel();
        let result = supervisor.run(token, Duration::from_millis(200)).await;
        assert!(result.is_ok(), "{result:?}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(!stubborn_ended.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_failure_cancels_the_others_and_is_returned() {
        let token = CancellationToken::new();
        let mut supervisor = Supervisor::new();
        let t = token.clone();
        supervisor.spawn("waits", async move {
            t.cancelled().await;
            Ok(())
        });
        supervisor.spawn("fails", async { Err(anyhow::anyhow!("broken")) });
        let started = tokio::time::Instant::now();
        let result = supervisor.run(token.clone(), Duration::from_secs(60)).await;
        assert_eq!(result.expect_err("fails").to_string(), "broken");
        assert!(token.is_cancelled());
        // The polite task returned by itself: no waiting for the deadline.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn tasks_that_all_finish_end_the_run() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn("quick", async { Ok(()) });
        let token = CancellationToken::new();
        supervisor
            .run(token.clone(), Duration::from_secs(60))
            .await
            .expect("clean");
        assert!(token.is_cancelled());
    }
}
