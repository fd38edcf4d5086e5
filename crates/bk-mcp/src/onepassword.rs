//! Reads the API token from 1Password with the `op` CLI
//! (`BUILDKITE_API_TOKEN_FROM_1PASSWORD`).

use std::process::Stdio;
use std::time::Duration;

use crate::error::ConfigError;

/// Time allowed for the `op` CLI to answer.
pub const ONEPASSWORD_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `op read -n <reference>` and returns the secret. Errors say what
/// went wrong in one line and never contain the secret.
pub async fn read(reference: &str) -> Result<String, ConfigError> {
    read_with("op", reference).await
}

async fn read_with(program: &str, reference: &str) -> Result<String, ConfigError> {
    if !reference.starts_with("op://") {
        return Err(ConfigError::new(format!(
            "--api-token-from-1password: {reference:?} is not a 1Password secret reference (op://vault/item/field)"
        )));
    }
    let child = tokio::process::Command::new(program)
        .args(["read", "-n", reference])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            ConfigError::new(format!(
                "--api-token-from-1password: could not run the 1Password CLI `{program}` ({e}); install it, or set BUILDKITE_API_TOKEN instead"
            ))
        })?;
    let output = tokio::time::timeout(ONEPASSWORD_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            ConfigError::new(format!(
                "--api-token-from-1password: `{program} read` did not answer within {} s; is 1Password unlocked?",
                ONEPASSWORD_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| ConfigError::new(format!("--api-token-from-1password: `{program} read` failed: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(ConfigError::new(format!(
            "--api-token-from-1password: `{program} read` failed ({}): {}",
            output.status,
            reason.trim()
        )));
    }
    let token = String::from_utf8(output.stdout).map_err(|_| {
        ConfigError::new("--api-token-from-1password: the secret is not UTF-8 text")
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(ConfigError::new(
            "--api-token-from-1password: the 1Password item is empty",
        ));
    }
    Ok(token.to_owned())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake_op(dir: &std::path::Path, script: &str) -> String {
        let path = dir.join("op");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write fake op");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod fake op");
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn reads_the_secret_with_op_read() {
        let dir = tempfile::tempdir().unwrap();
        let op = fake_op(
            dir.path(),
            r#"[ "$1 $2 $3" = "read -n op://ci/buildkite/token" ] && printf 'bkua_from_op' || exit 3"#,
        );
        assert_eq!(
            read_with(&op, "op://ci/buildkite/token").await.unwrap(),
            "bkua_from_op"
        );
    }

    #[tokio::test]
    async fn failures_are_one_line_without_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let op = fake_op(dir.path(), "echo '[ERROR] item not found' >&2; exit 1");
        let err = read_with(&op, "op://ci/x/y").await.unwrap_err();
        assert!(
            err.0.contains("item not found") && !err.0.contains('\n'),
            "{err}"
        );
        let err = read_with("/nonexistent/op", "op://ci/x/y")
            .await
            .unwrap_err();
        assert!(err.0.contains("install it"), "{err}");
        let err = read_with(&op, "vault/item").await.unwrap_err();
        assert!(err.0.contains("secret reference"), "{err}");
        let empty = fake_op(dir.path(), "exit 0");
        let err = read_with(&empty, "op://ci/x/y").await.unwrap_err();
        assert!(err.0.contains("empty"), "{err}");
    }
}
