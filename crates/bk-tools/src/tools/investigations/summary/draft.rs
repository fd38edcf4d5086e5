//! A failure summary before delivery: its fields in order, with each
//! failing job's log kept typed (a digest stays a [`Digest`]) so fitting
//! shortens it with the digest's own operation; rendered to JSON for each
//! size check and for the answer.

use bk_logs::LogRow;
use bk_logs::digest::Digest;
use serde_json::{Map, Value, json};

/// The summary being fitted.
#[derive(Debug)]
pub(super) struct Draft {
    /// The answer's fields in order. `jobs` holds its place (its value is
    /// replaced by the rendered [`Draft::jobs`]).
    pub fields: Map<String, Value>,
    /// The reported jobs, most important first.
    pub jobs: Vec<DraftJob>,
}

/// A reported job and its log.
#[derive(Debug)]
pub(super) struct DraftJob {
    /// The job as the summary shows it.
    pub item: Map<String, Value>,
    /// Its log, when one was read.
    pub log: Option<LogSection>,
    /// Whether fitting shortened the log.
    pub shortened: bool,
    /// Whether fitting removed the log (its lines or rows; what is said
    /// about it stays).
    pub removed: bool,
}

/// A job's log as the summary shows it.
#[derive(Debug)]
pub(super) enum LogSection {
    /// A digest around the log's last error, with what the log tools say
    /// beside it (the job's state, or that only the log's end was read).
    Digest {
        /// The digest.
        digest: Digest,
        /// The notes, shown with a `log_` prefix.
        notes: Map<String, Value>,
    },
    /// The log's last rows as they are (`raw_logs`).
    Tail {
        /// The rows, oldest first.
        rows: Vec<LogRow>,
        /// The log's row count (or the rows of the part read).
        total_rows: u64,
        /// The notes, shown with a `log_` prefix.
        notes: Map<String, Value>,
    },
    /// Why the log could not be read.
    Failed(String),
}

impl Draft {
    /// The answer's fields, with the jobs rendered in their place.
    pub(super) fn render(&self) -> Map<String, Value> {
        let mut out = self.fields.clone();
        let jobs = self.jobs.iter().map(DraftJob::render).collect();
        out.insert("jobs".into(), Value::Array(jobs));
        out
    }
}

impl DraftJob {
    /// A job with its log (or `None` for a job without one).
    pub(super) fn new(item: Map<String, Value>, log: Option<LogSection>) -> Self {
        DraftJob {
            item,
            log,
            shortened: false,
            removed: false,
        }
    }

    /// Whether the job still shows log lines or rows.
    pub(super) fn shows_log(&self) -> bool {
        !self.removed
            && matches!(
                self.log,
                Some(LogSection::Digest { .. } | LogSection::Tail { .. })
            )
    }

    /// The job's fields, then its log's, then what fitting did to it.
    fn render(&self) -> Value {
        let mut item = self.item.clone();
        if let Some(log) = &self.log {
            item.extend(log.fields());
        }
        if self.shortened {
            item.insert("log_shortened".into(), json!(true));
        }
        if self.removed && (item.remove("log").is_some() || item.remove("log_tail").is_some()) {
            item.insert("log_removed".into(), json!(true));
        }
        Value::Object(item)
    }
}

impl LogSection {
    /// The log's fields in a job of the summary.
    fn fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        let notes = match self {
            LogSection::Digest { digest, notes } => {
                if let Some(line) = &digest.error_line {
                    fields.insert("error_line".into(), json!(line));
                }
                if let Some(row) = digest.error_row {
                    fields.insert("error_row".into(), json!(row));
                }
                fields.insert("log".into(), json!(digest.lines));
                fields.insert("log_total_rows".into(), json!(digest.total_rows));
                notes
            }
            LogSection::Tail {
                rows,
                total_rows,
                notes,
            } => {
                fields.insert("log_tail".into(), json!(rows));
                fields.insert("log_total_rows".into(), json!(total_rows));
                notes
            }
            LogSection::Failed(error) => {
                fields.insert("log_error".into(), json!(error));
                return fields;
            }
        };
        for (key, value) in notes {
            fields.insert(format!("log_{key}"), value.clone());
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use bk_logs::digest::DigestLine;

    use super::*;

    fn digest_job() -> DraftJob {
        let line = |rn: u64, c: &str| DigestLine {
            rn,
            ts: None,
            c: c.to_owned(),
            repeat: 1,
        };
        let digest = Digest {
            lines: vec![line(0, "make"), line(1, "error: boom")],
            error_row: Some(1),
            error_line: Some("error: boom".into()),
            total_rows: 2,
        };
        let mut notes = Map::new();
        notes.insert("job_state".into(), json!("running"));
        let mut item = Map::new();
        item.insert("id".into(), json!("j1"));
        DraftJob::new(item, Some(LogSection::Digest { digest, notes }))
    }

    #[test]
    fn jobs_render_in_their_place_with_their_log_fields() {
        let mut fields = Map::new();
        fields.insert("build".into(), json!({}));
        fields.insert("jobs".into(), json!([]));
        fields.insert("job_limit".into(), json!(10));
        let draft = Draft {
            fields,
            jobs: vec![digest_job()],
        };
        let out = Value::Object(draft.render());
        assert_eq!(
            out.to_string(),
            r#"{"build":{},"jobs":[{"id":"j1","error_line":"error: boom","error_row":1,"log":[{"rn":0,"c":"make"},{"rn":1,"c":"error: boom"}],"log_total_rows":2,"log_job_state":"running"}],"job_limit":10}"#
        );
    }

    #[test]
    fn a_removed_log_keeps_what_is_said_about_it() {
        let mut job = digest_job();
        assert!(job.shows_log());
        job.shortened = true;
        job.removed = true;
        assert!(!job.shows_log());
        let Value::Object(item) = job.render() else {
            panic!("a job is an object")
        };
        assert!(item.get("log").is_none());
        assert_eq!(item["error_line"], "error: boom");
        assert_eq!(item["log_total_rows"], 2);
        assert_eq!(item["log_shortened"], true);
        assert_eq!(item["log_removed"], true);
        let failed = DraftJob::new(Map::new(), Some(LogSection::Failed("gone".into())));
        assert!(!failed.shows_log());
        assert_eq!(failed.render(), json!({"log_error": "gone"}));
    }
}
