//! Every API call is a `buildkite.api` tracing span with the method, path,
//! tool, status, size and outcome (what OpenTelemetry exports).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use buildkite_api::GetBuildParams;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{TOKEN, api, fixture_text, json};

type Fields = BTreeMap<String, String>;

/// Keeps the fields of every `buildkite.api` span, by span id.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(Id, Fields)>>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "buildkite.api" {
            let mut fields = Fields::new();
            attrs.record(&mut Collect(&mut fields));
            self.0.lock().unwrap().push((id.clone(), fields));
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, fields)) = spans.iter_mut().find(|(span, _)| span == id) {
            values.record(&mut Collect(fields));
        }
    }
}

#[tokio::test]
async fn each_call_is_a_span_with_its_outcome_and_never_the_token() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42"))
        .respond_with(json(200, "build.json"))
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_string(r#"{"message":"Not Found"}"#))
        .mount(&api.server)
        .await;
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(Registry::default().with(capture.clone()));

    let client = api.client.for_tool("get_build");
    client
        .get_build("acme", "app", 42, &GetBuildParams::default())
        .await
        .unwrap();
    client.get_pipeline("acme", "gone").await.unwrap_err();

    let spans: Vec<Fields> = capture
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, f)| f.clone())
        .collect();
    let expected_ok: Fields = [
        ("otel.kind", "client"),
        ("method", "GET"),
        ("path", "/v2/organizations/acme/pipelines/app/builds/42"),
        ("tool", "get_build"),
        ("status", "200"),
        ("bytes", &fixture_text("build.json").len().to_string()),
        ("error", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let expected_err: Fields = [
        ("otel.kind", "client"),
        ("otel.status_code", "error"),
        ("method", "GET"),
        ("path", "/v2/organizations/acme/pipelines/gone"),
        ("tool", "get_build"),
        ("status", "404"),
        ("error", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(spans, [expected_ok, expected_err]);
    assert!(!format!("{spans:?}").contains(TOKEN));
}
