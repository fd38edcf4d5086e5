//! Redacting secrets: values of secret-looking environment variables, and
//! known token shapes anywhere in output, become `[REDACTED]`.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Token shapes: Buildkite, GitHub, GitLab, AWS, Slack, npm, OpenAI-style
/// keys, JWTs, and PEM private-key blocks.
static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\bbk(?:ua|ct|ca)_[A-Za-z0-9]{20,}",
        r"|\bgh[pousr]_[A-Za-z0-9]{30,}",
        r"|\bgithub_pat_[A-Za-z0-9_]{40,}",
        r"|\bglpat-[A-Za-z0-9_-]{20,}",
        r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"|\bxox[abprs]-[A-Za-z0-9-]{10,}",
        r"|\bnpm_[A-Za-z0-9]{30,}",
        r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}",
        r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    ))
    .unwrap_or_else(|e| panic!("token pattern: {e}"))
});

/// Variable names whose values are secrets: anything mentioning a secret,
/// token, password, credential, private or API key, or ending in `_KEY`,
/// `_PAT`, `_DSN`, `_AUTH` or `WEBHOOK_URL` (any case). Over-redacting a
/// harmless value costs little; leaking one does not.
static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)SECRET|TOKEN|PASSW|PASSPHRASE|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|(?:^|_)(?:KEY|KEYS|PASS|PWD|PAT|DSN|AUTH)$|WEBHOOK_?URL$")
        .unwrap_or_else(|e| panic!("name pattern: {e}"))
});

/// Credentials inside text: a URL's password (`scheme://user:PASSWORD@`)
/// and HTTP authorization values (`Bearer …`, `Basic …`).
static INLINE_CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(@)|\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{12,}")
        .unwrap_or_else(|e| panic!("credential pattern: {e}"))
});

/// Names that end in `_KEY` but hold an identifier, not a secret
/// (`BUILDKITE_STEP_KEY`, `BUILDKITE_GROUP_KEY`, a cache key).
static IDENTIFIER_KEY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|_)(?:STEP|GROUP|CACHE|SORT|PARTITION)_KEY$")
        .unwrap_or_else(|e| panic!("identifier key pattern: {e}"))
});

/// Whether an environment variable of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    SECRET_NAME.is_match(name) && !IDENTIFIER_KEY_NAME.is_match(name)
}

/// Replaces known token shapes in `text`.
///
/// An AWS key id right after `Credential=` is left alone: presigned URLs
/// carry it by design (it identifies the key; the signature is single-use),
/// and redacting it would break the URL.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let tokens = redact_tokens(text);
    if !INLINE_CREDENTIALS.is_match(&tokens) {
        return tokens;
    }
    let replaced = INLINE_CREDENTIALS.replace_all(&tokens, |found: &regex::Captures<'_>| {
        match (found.get(1), found.get(2), found.get(3), found.get(4)) {
            (Some(prefix), Some(at), _, _) => {
                format!("{}{REDACTED}{}", prefix.as_str(), at.as_str())
            }
            (_, _, Some(scheme), Some(space)) => {
                format!("{}{}{REDACTED}", scheme.as_str(), space.as_str())
            }
            _ => REDACTED.to_owned(),
        }
    });
    Cow::Owned(replaced.into_owned())
}

fn redact_tokens(text: &str) -> Cow<'_, str> {
    TOKENS.replace_all(text, |found: &regex::Captures<'_>| {
        let Some(whole) = found.get(0) else {
            return String::new();
        };
        let before = &text[..whole.start()];
        let presigned = before.ends_with("Credential=") || before.ends_with("Credential%3D");
        if presigned && (whole.as_str().starts_with("AKIA") || whole.as_str().starts_with("ASIA")) {
            whole.as_str().to_owned()
        } else {
            REDACTED.to_owned()
        }
    })
}

/// Redacts token shapes in every string of a JSON value, and the values of
/// secret-named variables in any `env` object (a job's, a build's, a
/// pipeline's or a schedule's environment).
pub fn redact_value(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(clean) = redact_text(text) {
                *text = clean;
            }
        }
        Value::Array(items) => {
            redact_key_blocks(items);
            items.iter_mut().for_each(redact_value);
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::Object(env) if key == "env" || key == "meta_data" => {
                        redact_env(env);
                    }
                    // A pipeline's webhook URL embeds the token that
                    // triggers its builds.
                    Value::String(url) if key == "webhook_url" && !url.is_empty() => {
                        *url = REDACTED.to_owned();
                    }
                    _ => {}
                }
                redact_value(child);
            }
        }
        _ => {}
    }
}

/// The text of a log row: a string, or the `c` of a `{ts, c, rn}` entry.
fn row_text(item: &mut Value) -> Option<&mut String> {
    match item {
        Value::String(text) => Some(text),
        Value::Object(map) => match map.get_mut("c") {
            Some(Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// A private key printed in a log spans several rows: every row from a
/// `-----BEGIN … PRIVATE KEY-----` line to its `END` line is redacted.
fn redact_key_blocks(items: &mut [Value]) {
    let mut inside = false;
    for item in items.iter_mut() {
        let Some(text) = row_text(item) else {
            inside = false;
            continue;
        };
        let begins = text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----");
        let ends = text.contains("-----END") && text.contains("PRIVATE KEY-----");
        if inside || (begins && !ends) {
            *text = REDACTED.to_owned();
        }
        if begins && !ends {
            inside = true;
        } else if ends {
            inside = false;
        }
    }
}

/// Redacts the values of secret-named variables in an environment map
/// (`{"NAME": "value"}`); returns how many were redacted.
pub fn redact_env(env: &mut serde_json::Map<String, Value>) -> usize {
    let mut count = 0;
    for (name, value) in env.iter_mut() {
        if is_secret_name(name) && value.as_str().is_some_and(|v| !v.is_empty()) {
            *value = Value::String(REDACTED.into());
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "NPM_TOKEN",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY",
            "DB_PASSWORD",
            "SIGNING_KEY",
            "token",
            "DOCKER_CREDENTIALS",
            "SECRET_KEY_BASE",
            "STRIPE_APIKEY",
            "GITHUB_PAT",
            "SLACK_WEBHOOK_URL",
            "SENTRY_DSN",
            "deploy_token",
            "GPG_PASSPHRASE",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "BUILDKITE_BRANCH",
            "CI",
            "KEYBOARD",
            "PATH",
            "BUILDKITE_JOB_ID",
            "MONKEY_PATCH",
            "BUILDKITE_STEP_KEY",
            "BUILDKITE_GROUP_KEY",
            "CACHE_KEY",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn token_shapes_are_redacted_in_text() {
        let text = "token=bkua_0123456789abcdefghijABCDEFGHIJ0123 and ghp_abcdefghijklmnopqrstuvwxyz0123456789 key AKIAIOSFODNN7EXAMPLE";
        assert_eq!(
            redact_text(text),
            "token=[REDACTED] and [REDACTED] key [REDACTED]"
        );
        let pem = "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY-----\ny";
        assert_eq!(redact_text(pem), "x\n[REDACTED]\ny");
        assert!(matches!(redact_text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn credentials_inside_text_are_redacted() {
        assert_eq!(
            redact_text(
                "DATABASE_URL=postgres://app:hunter2@db:5432/x and https://x-access-token:ghs_abc123@github.com/a"
            ),
            "DATABASE_URL=postgres://app:[REDACTED]@db:5432/x and https://x-access-token:[REDACTED]@github.com/a"
        );
        assert_eq!(
            redact_text("curl -H 'Authorization: Bearer abcdef0123456789xyz'"),
            "curl -H 'Authorization: Bearer [REDACTED]'"
        );
        assert_eq!(
            redact_text("see https://buildkite.com/acme and bearer of news"),
            "see https://buildkite.com/acme and bearer of news"
        );
    }

    #[test]
    fn webhook_urls_and_meta_data_secrets_are_redacted() {
        let mut value = serde_json::json!({
            "provider": {"webhook_url": "https://webhook.buildkite.com/deliver/abc123"},
            "meta_data": {"deploy_token": "t0k3n", "release": "v1"}
        });
        redact_value(&mut value);
        assert_eq!(value["provider"]["webhook_url"], REDACTED);
        assert_eq!(
            value["meta_data"],
            serde_json::json!({"deploy_token": REDACTED, "release": "v1"})
        );
    }

    #[test]
    fn a_private_key_printed_over_several_log_rows_is_redacted() {
        let mut rows = serde_json::json!({"entries": [
            {"c": "before", "rn": 0},
            {"c": "-----BEGIN OPENSSH PRIVATE KEY-----", "rn": 1},
            {"c": "b3BlbnNzaC1rZXktdjEAAAAA", "rn": 2},
            {"c": "-----END OPENSSH PRIVATE KEY-----", "rn": 3},
            {"c": "after", "rn": 4}
        ]});
        redact_value(&mut rows);
        let texts: Vec<&str> = rows["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["c"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["before", REDACTED, REDACTED, REDACTED, "after"]);
    }

    #[test]
    fn presigned_urls_keep_their_key_id() {
        let url = "https://bucket.s3.amazonaws.com/a.log?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc";
        assert_eq!(redact_text(url), url);
        assert_eq!(redact_text("key=ASIAIOSFODNN7EXAMPLE"), "key=[REDACTED]");
    }

    #[test]
    fn any_env_object_is_redacted_by_name() {
        let mut value = serde_json::json!({"pipeline": {"env": {"DEPLOY_KEY": "k", "REGION": "eu"}}, "name": "DEPLOY_KEY"});
        redact_value(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"pipeline": {"env": {"DEPLOY_KEY": "[REDACTED]", "REGION": "eu"}}, "name": "DEPLOY_KEY"})
        );
    }

    #[test]
    fn env_values_are_redacted_by_name() {
        let mut env = serde_json::json!({"CI": "true", "NPM_TOKEN": "npm_abc", "EMPTY_TOKEN": ""});
        let count = redact_env(env.as_object_mut().unwrap());
        assert_eq!(count, 1);
        assert_eq!(
            env,
            serde_json::json!({"CI": "true", "NPM_TOKEN": "[REDACTED]", "EMPTY_TOKEN": ""})
        );
    }
}
