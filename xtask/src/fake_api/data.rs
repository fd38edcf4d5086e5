//! What the fake API serves: a tree of files mirroring the REST API, by
//! path from its root (`v2/user.json`,
//! `v2/organizations/acme/pipelines/web/builds/1234.json`,
//! `…/builds/1234/jobs/{id}/log.txt`). JSON files are parsed once, when
//! the data is filled; a generated log is written on first use.
//!
//! Three ways to fill it: the demo's tree from disk ([`Data::tree`]),
//! `buildkite-api`'s fixtures placed where the API serves them
//! ([`Data::fixtures`]), and builds of jobs with generated logs
//! ([`Data::add_generated_build`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use axum::body::Bytes;
use serde_json::{Value, json};

/// The files the fake API serves.
#[derive(Debug, Default)]
pub struct Data {
    files: BTreeMap<String, File>,
}

#[derive(Debug)]
enum File {
    /// A JSON document, with its compact serialisation (what the API sends).
    Json { value: Value, compact: Bytes },
    /// Anything else, as is: a raw log, an artifact's content.
    Raw(Bytes),
    /// A log of about `bytes` bytes generated from `seed` on first use.
    Generated {
        bytes: u64,
        seed: u64,
        log: OnceLock<Bytes>,
    },
}

impl Data {
    /// Every file under `root` (e.g. `examples/demo/org`).
    pub fn tree(root: &Path) -> Result<Data, String> {
        let mut data = Data::default();
        data.load(root, root)?;
        if data.files.is_empty() {
            return Err(format!("{}: no fixture files", root.display()));
        }
        Ok(data)
    }

    /// `buildkite-api`'s test fixtures in `dir`, where the API serves them:
    /// `user.json` as `GET /v2/user`, `build.json` as build `acme/app#42`
    /// and `annotations.json` as its annotations.
    pub fn fixtures(dir: &Path) -> Result<Data, String> {
        let build = "v2/organizations/acme/pipelines/app/builds/42";
        let mut data = Data::default();
        for (name, path) in [
            ("user.json", "v2/user.json".to_owned()),
            ("build.json", format!("{build}.json")),
            ("annotations.json", format!("{build}/annotations.json")),
        ] {
            let file = dir.join(name);
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let value =
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            data.insert_json(&path, value);
        }
        Ok(data)
    }

    /// Adds build `org/pipeline#number` of finished, failed jobs with
    /// these ids, each with a generated log of about `log_bytes` (the same
    /// bytes for the same id).
    pub fn add_generated_build(
        &mut self,
        org: &str,
        pipeline: &str,
        number: u64,
        job_ids: impl IntoIterator<Item = String>,
        log_bytes: u64,
    ) {
        let dir = format!("v2/organizations/{org}/pipelines/{pipeline}/builds/{number}");
        let mut jobs = Vec::new();
        for id in job_ids {
            let seed = id
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            self.files.insert(
                format!("{dir}/jobs/{id}/log.txt"),
                File::Generated {
                    bytes: log_bytes,
                    seed,
                    log: OnceLock::new(),
                },
            );
            jobs.push(json!({
                "id": id, "type": "script", "name": ":rspec: specs", "step_key": "specs",
                "state": "failed", "exit_status": 1,
                "created_at": "2026-12-07T10:00:00.000Z", "started_at": "2026-12-07T10:00:05.000Z",
                "finished_at": "2026-12-07T10:03:00.000Z"
            }));
        }
        self.insert_json(
            &format!("{dir}.json"),
            json!({
                "number": number, "state": "failed", "branch": "main",
                "created_at": "2026-12-07T09:59:00.000Z",
                "finished_at": "2026-12-07T10:03:00.000Z",
                "jobs": jobs,
            }),
        );
    }

    /// Puts a JSON document at `path` (`v2/…/x.json`).
    pub fn insert_json(&mut self, path: &str, value: Value) {
        let compact = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        self.files
            .insert(path.to_owned(), File::Json { value, compact });
    }

    fn load(&mut self, root: &Path, dir: &Path) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                self.load(root, &path)?;
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .map_err(|e| e.to_string())?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if relative.ends_with(".json") && !relative.starts_with("_artifacts/") {
                let value = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                self.insert_json(&relative, value);
            } else {
                self.files.insert(relative, File::Raw(Bytes::from(bytes)));
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------- reading

    /// Whether there is a file at `path`.
    pub(super) fn has(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// The JSON document at `path`.
    pub(super) fn json(&self, path: &str) -> Option<&Value> {
        match self.files.get(path)? {
            File::Json { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The JSON document at `path`, serialised as the API sends it.
    pub(super) fn json_bytes(&self, path: &str) -> Option<Bytes> {
        match self.files.get(path)? {
            File::Json { compact, .. } => Some(compact.clone()),
            _ => None,
        }
    }

    /// The bytes of the file at `path` that is not JSON (generated first,
    /// if it is a generated log).
    pub(super) fn raw(&self, path: &str) -> Option<Bytes> {
        match self.files.get(path)? {
            File::Raw(bytes) => Some(bytes.clone()),
            File::Generated { bytes, seed, log } => Some(
                log.get_or_init(|| {
                    let mut out = Vec::new();
                    // Writing to memory cannot fail.
                    let _ = bk_loggen::generate(&mut out, *bytes, *seed);
                    Bytes::from(out)
                })
                .clone(),
            ),
            File::Json { .. } => None,
        }
    }

    /// The JSON documents directly in `dir`, in file-name order.
    pub(super) fn dir_items(&self, dir: &str) -> Vec<Value> {
        let prefix = format!("{dir}/");
        self.files
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .filter(|(path, _)| !path[prefix.len()..].contains('/'))
            .filter_map(|(_, file)| match file {
                File::Json { value, .. } => Some(value.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every build of `org`'s pipelines: `(v2/…/builds/{n}, build)`.
    pub(super) fn builds_of(&self, org: &str) -> impl Iterator<Item = (&str, &Value)> {
        let prefix = format!("v2/organizations/{org}/pipelines/");
        self.files.iter().filter_map(move |(path, file)| {
            let rest = path.strip_prefix(&prefix)?;
            let parts: Vec<&str> = rest.split('/').collect();
            if parts.len() != 3 || parts[1] != "builds" {
                return None;
            }
            let dir = path.strip_suffix(".json")?;
            match file {
                File::Json { value, .. } => Some((dir, value)),
                _ => None,
            }
        })
    }

    /// `v2/organizations/{org}/pipelines/{p}/builds/{n}` of the build with
    /// this job.
    pub(super) fn build_of_job(&self, org: &str, job_id: &str) -> Option<String> {
        self.builds_of(org).find_map(|(dir, build)| {
            let has = build["jobs"]
                .as_array()?
                .iter()
                .any(|job| job["id"] == job_id);
            has.then(|| dir.to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_logs_are_made_once_and_the_same_for_the_same_job() {
        let mut data = Data::default();
        let ids = || ["a-job-1".to_owned(), "a-job-2".to_owned()];
        data.add_generated_build("acme", "web", 7, ids(), 4096);
        let dir = "v2/organizations/acme/pipelines/web/builds/7";
        let first = data.raw(&format!("{dir}/jobs/a-job-1/log.txt")).unwrap();
        assert!(first.len() >= 4096 && first.starts_with(b"\x1b_bk;t="));
        let again = data.raw(&format!("{dir}/jobs/a-job-1/log.txt")).unwrap();
        assert_eq!(first.as_ptr(), again.as_ptr(), "generated once");
        let other = data.raw(&format!("{dir}/jobs/a-job-2/log.txt")).unwrap();
        assert_ne!(first, other);

        let mut twin = Data::default();
        twin.add_generated_build("acme", "web", 7, ids(), 4096);
        assert_eq!(
            twin.raw(&format!("{dir}/jobs/a-job-1/log.txt")).unwrap(),
            first
        );
        assert_eq!(data.build_of_job("acme", "a-job-2").as_deref(), Some(dir));
        assert_eq!(
            data.json(&format!("{dir}.json")).unwrap()["jobs"][1]["id"],
            "a-job-2"
        );
    }
}
