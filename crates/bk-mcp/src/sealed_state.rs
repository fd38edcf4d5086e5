//! State a client carries between two rounds of one tool call (the
//! `requestState` of MCP 2026-07-28's input-required results), sealed so it
//! can be neither read nor changed: AES-256-GCM under a key every replica
//! shares (`BK_MCP_STATE_KEY`), so any replica opens what another sealed.
//!
//! A sealed state is bound to the tool, its arguments and the caller's
//! credentials (as associated data: they are not stored in it, and opening
//! fails unless the same ones are given), and it expires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How long a sealed state can be opened.
pub const STATE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The key states are sealed with.
#[derive(Clone)]
pub struct StateKey {
    key: [u8; 32],
    /// Whether it came from the operator (shared by replicas) rather than
    /// being made at start (this process only).
    pub shared: bool,
}

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateKey")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl StateKey {
    /// The key derived from the operator's secret (any text; SHA-256 makes
    /// it 32 bytes).
    pub fn from_secret(secret: &str) -> StateKey {
        StateKey {
            key: Sha256::digest(secret.as_bytes()).into(),
            shared: true,
        }
    }

    /// A random key for this process only: states it seals open only here.
    pub fn random() -> StateKey {
        StateKey {
            key: Aes256Gcm::generate_key(OsRng).into(),
            shared: false,
        }
    }

    /// Bytes other bindings may be keyed with (the credential digest), not
    /// the sealing key itself.
    pub fn binding_salt(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"bk-mcp credential binding");
        hasher.update(self.key);
        hasher.finalize().into()
    }

    /// Seals `value` for `tool` called with `arguments` by `credentials`,
    /// until `now` + [`STATE_LIFETIME`].
    pub fn seal(
        &self,
        value: &str,
        binding: &Binding<'_>,
        now: SystemTime,
    ) -> Result<String, StateError> {
        self.seal_for(value, binding, now, STATE_LIFETIME)
    }

    /// [`StateKey::seal`], for `lifetime` instead.
    pub fn seal_for(
        &self,
        value: &str,
        binding: &Binding<'_>,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<String, StateError> {
        let expires = unix_seconds(now) + lifetime.as_secs();
        let plain = serde_json::to_vec(&serde_json::json!({"v": value, "exp": expires}))
            .map_err(|_| StateError::Invalid)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = binding.digest();
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| StateError::Invalid)?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The value sealed in `state`, if it was sealed by this key for the
    /// same binding and has not expired.
    pub fn open(
        &self,
        state: &str,
        binding: &Binding<'_>,
        now: SystemTime,
    ) -> Result<String, StateError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(state.trim())
            .map_err(|_| StateError::Invalid)?;
        if bytes.len() < 12 + 16 {
            return Err(StateError::Invalid);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let aad = binding.digest();
        let plain = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| StateError::Invalid)?;
        let payload: Value = serde_json::from_slice(&plain).map_err(|_| StateError::Invalid)?;
        let expires = payload["exp"].as_u64().ok_or(StateError::Invalid)?;
        if unix_seconds(now) > expires {
            return Err(StateError::Expired);
        }
        payload["v"]
            .as_str()
            .map(str::to_owned)
            .ok_or(StateError::Invalid)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.key.into())
    }
}

/// What a sealed state is bound to.
#[derive(Debug)]
pub struct Binding<'a> {
    /// The tool called.
    pub tool: &'a str,
    /// Its arguments.
    pub arguments: &'a Value,
    /// The caller's credentials ([`buildkite_api::Client::credential_digest`]).
    pub credentials: [u8; 32],
}

impl Binding<'_> {
    /// The associated data: a digest of the tool, the arguments (keys
    /// sorted, so their order does not matter) and the credentials.
    fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in [
            self.tool.as_bytes(),
            canonical(self.arguments).as_bytes(),
            &self.credentials,
        ] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.finalize().into()
    }
}

/// Why a state could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not sealed by this key, changed, or for another call or caller.
    #[error(
        "the requestState is not valid for this call: it was changed, made for other arguments or another caller, or sealed by a server with another BK_MCP_STATE_KEY"
    )]
    Invalid,
    /// Sealed too long ago.
    #[error("the requestState has expired (it lasts 10 minutes)")]
    Expired,
}

/// JSON with object keys sorted, at every level.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding<'a>(arguments: &'a Value, who: u8) -> Binding<'a> {
        Binding {
            tool: "cancel_build",
            arguments,
            credentials: [who; 32],
        }
    }

    #[test]
    fn a_state_opens_only_for_its_call_caller_key_and_lifetime() {
        let key = StateKey::from_secret("shared secret");
        let args = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"});
        let now = SystemTime::now();
        let state = key.seal("42", &binding(&args, 1), now).unwrap();
        assert!(!state.contains("42"), "the value is not readable");

        // Another replica with the same secret opens it; key order is free.
        let reordered = json!({"build_number": "42", "pipeline_slug": "app", "org_slug": "acme"});
        let replica = StateKey::from_secret("shared secret");
        assert_eq!(
            replica.open(&state, &binding(&reordered, 1), now).unwrap(),
            "42"
        );

        let other_args = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "43"});
        let refused = [
            key.open(&state, &binding(&other_args, 1), now),
            key.open(&state, &binding(&args, 2), now),
            StateKey::from_secret("other").open(&state, &binding(&args, 1), now),
            StateKey::random().open(&state, &binding(&args, 1), now),
            key.open("not a state", &binding(&args, 1), now),
            key.open("", &binding(&args, 1), now),
        ];
        for result in refused {
            assert_eq!(result, Err(StateError::Invalid));
        }
        let mut tampered = URL_SAFE_NO_PAD.decode(&state).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            key.open(&URL_SAFE_NO_PAD.encode(tampered), &binding(&args, 1), now),
            Err(StateError::Invalid)
        );
        let later = now + STATE_LIFETIME + Duration::from_secs(2);
        assert_eq!(
            key.open(&state, &binding(&args, 1), later),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn the_key_never_shows() {
        let key = StateKey::from_secret("hunter2");
        assert!(!format!("{key:?}").contains("hunter2"));
        assert!(key.shared && !StateKey::random().shared);
    }
}
