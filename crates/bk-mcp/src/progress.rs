//! Forwards tool progress as MCP `notifications/progress`.
//!
//! Tools report progress through a synchronous [`ProgressSink`]; rmcp wants
//! notifications sent from the request's own task (it routes them by a
//! task-local). So the sink only queues, and [`ProgressForwarder::drive`]
//! runs the tool call and sends queued notifications from the same task.

use std::future::Future;
use std::sync::Arc;

use bk_tools::ProgressSink;
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};
use tokio::sync::mpsc;

struct Update {
    progress: f64,
    total: Option<f64>,
    message: String,
}

struct QueueSink(mpsc::UnboundedSender<Update>);

impl ProgressSink for QueueSink {
    fn progress(&self, progress: f64, total: Option<f64>, message: &str) {
        // The receiver is gone only once the call has finished; late
        // updates are dropped.
        let _ = self.0.send(Update {
            progress,
            total,
            message: message.to_owned(),
        });
    }
}

/// Sends one request's progress to its client.
pub struct ProgressForwarder {
    token: ProgressToken,
    peer: Peer<RoleServer>,
    sender: mpsc::UnboundedSender<Update>,
    receiver: mpsc::UnboundedReceiver<Update>,
}

impl std::fmt::Debug for ProgressForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressForwarder")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl ProgressForwarder {
    /// A forwarder if the client asked for progress (sent a progress token).
    pub fn for_request(context: &RequestContext<RoleServer>) -> Option<Self> {
        let token = context.meta.get_progress_token()?;
        let (sender, receiver) = mpsc::unbounded_channel();
        Some(ProgressForwarder {
            token,
            peer: context.peer.clone(),
            sender,
            receiver,
        })
    }

    /// The sink to give the tool.
    pub fn sink(&self) -> Arc<dyn ProgressSink> {
        Arc::new(QueueSink(self.sender.clone()))
    }

    /// Runs `call`, sending its progress as it comes, and returns its output.
    /// Updates still queued when the call ends are sent before the result.
    pub async fn drive<T>(mut self, call: impl Future<Output = T>) -> T {
        drop(self.sender);
        tokio::pin!(call);
        loop {
            tokio::select! {
                biased;
                output = &mut call => {
                    while let Ok(update) = self.receiver.try_recv() {
                        send(&self.peer, &self.token, update).await;
                    }
                    return output;
                }
                Some(update) = self.receiver.recv() => send(&self.peer, &self.token, update).await,
            }
        }
    }
}

/// Sends one progress notification; a client that went away is not an error.
async fn send(peer: &Peer<RoleServer>, token: &ProgressToken, update: Update) {
    let mut param =
        ProgressNotificationParam::new(token.clone(), update.progress).with_message(update.message);
    if let Some(total) = update.total {
        param = param.with_total(total);
    }
    if let Err(error) = peer.notify_progress(param).await {
        tracing::debug!(%error, "could not send a progress notification");
    }
}
