//! Serde types for API resources and request bodies.
//!
//! Every resource struct keeps the fields this crate does not model in
//! `extra`, so serialising a decoded value gives back every field the API sent
//! and a new API field never breaks decoding. Nullable fields are `Option`.
//!
//! A request body is named for what it is: `…Body` (`CreateBuildBody`,
//! `ClusterBody` for a cluster's create and update).

mod agents;
mod annotations;
mod artifacts;
mod builds;
mod clusters;
mod jobs;
mod organizations;
mod pipelines;
mod step_uploads;
mod test_engine;

pub use agents::*;
pub use annotations::*;
pub use artifacts::*;
pub use builds::*;
pub use clusters::*;
pub use jobs::*;
pub use organizations::*;
pub use pipelines::*;
pub use step_uploads::*;
pub use test_engine::*;

/// Fields of a response that have no typed field.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Declares a string enum for a closed set of API values that also keeps any
/// value a future API version adds (`Other`), so decoding never fails on it.
macro_rules! api_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the crate does not know.
            Other(String),
        }

        impl $name {
            /// The value as the API writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(other) => other,
                }
            }

            /// Every known value, as the API writes it.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Ok(match text {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(text.parse().unwrap_or_else(|never| match never {}))
            }
        }
    };
}
pub(crate) use api_enum;

/// A user as embedded in other resources (creator, unblocker, …).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserSummary {
    /// User UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Other fields (avatar_url, created_at, graphql_id, …).
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::BuildState;

    #[test]
    fn enum_display_honours_width() {
        assert_eq!(format!("[{:<8}]", BuildState::Failed), "[failed  ]");
        assert_eq!(
            format!("{}", "custom".parse::<BuildState>().unwrap()),
            "custom"
        );
    }
}
