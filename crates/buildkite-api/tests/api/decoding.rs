//! Decoding is lossless: every fixture decodes, and serialising the typed
//! value gives back every field and value the API sent (unknown fields
//! included), with timestamps normalised to ISO 8601.

use buildkite_api::{
    AccessToken, Agent, Annotation, Artifact, Build, Cluster, ClusterQueue, CursorPage,
    FailedExecution, Job, JobEnv, Organization, Pipeline, PipelineSchedule, StepUpload, Test,
    TestRun, TestSuite, Timestamp, User,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::common::fixture;

/// Decodes `name` as `T`, re-encodes it, and checks nothing was lost.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let original = fixture(name);
    let typed: T = serde_json::from_value(original.clone())
        .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
    let again = serde_json::to_value(&typed).unwrap();
    assert_same(&original, &again, name);
    typed
}

/// `actual` holds every field of `expected` with an equal value. A field the
/// API left out may come back as `null`; timestamps compare as instants.
fn assert_same(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let got = a.get(key).unwrap_or(&Value::Null);
                assert_same(value, got, &format!("{at}.{key}"));
            }
            for (key, value) in a {
                assert!(
                    e.contains_key(key) || value.is_null(),
                    "{at}.{key} was invented: {value}"
                );
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{at}: array length");
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                assert_same(e, a, &format!("{at}[{i}]"));
            }
        }
        (Value::String(e), Value::String(a)) if e != a => {
            let (Some(e_time), Some(a_time)) = (Timestamp::parse(e), Timestamp::parse(a)) else {
                panic!("{at}: {e:?} became {a:?}");
            };
            assert_eq!(e_time, a_time, "{at}");
        }
        (Value::Number(e), Value::Number(a)) => {
            assert_eq!(e.as_f64(), a.as_f64(), "{at}");
        }
        _ => assert_eq!(expected, actual, "{at}"),
    }
}

#[test]
fn every_resource_round_trips_without_loss() {
    round_trip::<User>("user.json");
    round_trip::<AccessToken>("access_token.json");
    round_trip::<Vec<Organization>>("organizations.json");
    round_trip::<Vec<Pipeline>>("pipelines.json");
    round_trip::<Vec<PipelineSchedule>>("pipeline_schedules.json");
    round_trip::<Vec<Build>>("builds.json");
    round_trip::<Build>("build.json");
    round_trip::<CursorPage<Job>>("jobs_page1.json");
    round_trip::<Job>("job.json");
    round_trip::<Job>("job_retried.json");
    round_trip::<Job>("job_unblocked.json");
    round_trip::<JobEnv>("job_env.json");
    round_trip::<Vec<Artifact>>("artifacts.json");
    round_trip::<Vec<Annotation>>("annotations.json");
    round_trip::<Vec<Cluster>>("clusters.json");
    round_trip::<Vec<ClusterQueue>>("cluster_queues.json");
    round_trip::<ClusterQueue>("cluster_queue_paused.json");
    round_trip::<Vec<Agent>>("agents.json");
    round_trip::<CursorPage<StepUpload>>("step_uploads.json");
    round_trip::<StepUpload>("step_upload.json");
    round_trip::<Vec<TestSuite>>("test_suites.json");
    round_trip::<Vec<TestRun>>("test_runs.json");
    round_trip::<Vec<FailedExecution>>("failed_executions.json");
    round_trip::<Vec<Test>>("tests.json");
}

#[test]
fn unknown_fields_are_kept_in_extra() {
    let pipeline: Pipeline = round_trip("pipeline.json");
    assert_eq!(pipeline.extra["emoji"], ":rocket:");
    assert_eq!(
        pipeline.extra["future_field"],
        serde_json::json!({"nested": [1, 2]})
    );
}

#[test]
fn both_timestamp_forms_decode() {
    let pipelines: Vec<Pipeline> = round_trip("pipelines.json");
    assert_eq!(
        pipelines[0].created_at.unwrap().to_string(),
        "2013-09-03T13:24:38.000Z"
    );
    assert_eq!(
        pipelines[1].created_at.unwrap().to_string(),
        "2021-04-12T08:30:17.645Z"
    );
}

#[test]
fn a_new_enum_value_does_not_break_decoding() {
    let mut build = fixture("build.json");
    build["state"] = "quantum_superposition".into();
    build["jobs"][0]["state"] = "teleporting".into();
    let decoded: Build = serde_json::from_value(build).unwrap();
    assert_eq!(decoded.state.as_str(), "quantum_superposition");
    assert_eq!(
        decoded.jobs[0].state.as_ref().unwrap().as_str(),
        "teleporting"
    );
    assert!(!decoded.state.is_terminal());
}

#[test]
fn a_bad_timestamp_is_a_decode_error_not_a_panic() {
    let mut user = fixture("user.json");
    user["created_at"] = "last tuesday".into();
    let error = serde_json::from_value::<User>(user).unwrap_err();
    assert!(error.to_string().contains("invalid timestamp"), "{error}");
}
