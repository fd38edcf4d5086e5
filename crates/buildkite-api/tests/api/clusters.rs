//! Clusters and cluster queues, including pausing and resuming dispatch.

use buildkite_api::{ClusterBody, ClusterQueueBody, Error, PageParams};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{api, authorized, exact_query, json, only_request_body};

const CLUSTER: &str = "42f1a7da-812d-4430-93d8-1cc7c33a6bcf";
const QUEUE: &str = "01885682-55a7-44f5-84f3-0402fb452e66";

fn clusters_path() -> String {
    "/v2/organizations/acme/clusters".to_owned()
}

fn cluster_path() -> String {
    format!("/v2/organizations/acme/clusters/{CLUSTER}")
}

fn queues_path() -> String {
    format!("{}/queues", cluster_path())
}

fn queue_path() -> String {
    format!("{}/queues/{QUEUE}", cluster_path())
}

#[tokio::test]
async fn list_clusters_with_paging() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(clusters_path()))
        .and(exact_query(&[("page", "2"), ("per_page", "10")]))
        .and(authorized())
        .respond_with(json(200, "clusters.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_clusters("acme", &PageParams::new(2, 10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].name, "Open Source");
    assert_eq!(page.items[0].default_queue_id.as_deref(), Some(QUEUE));
}

#[tokio::test]
async fn get_cluster_by_id() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(cluster_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "cluster.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let cluster = api.client.get_cluster("acme", CLUSTER).await.unwrap();
    assert_eq!(cluster.id, CLUSTER);
    assert_eq!(cluster.emoji.as_deref(), Some(":technologist:"));
    assert_eq!(
        cluster.created_by.unwrap().email.as_deref(),
        Some("sam@example.com")
    );
    assert_eq!(
        cluster.extra["queues_url"],
        json!(format!("https://api.buildkite.com{}", queues_path()))
    );
}

#[tokio::test]
async fn create_cluster_posts_its_fields() {
    let api = api().await;
    let expected = json!({
        "name": "Open Source",
        "description": "OSS builds",
        "emoji": ":technologist:",
        "color": "#FFE0F1",
        "maintainers": { "users": [], "teams": ["platform"] },
    });
    Mock::given(method("POST"))
        .and(path(clusters_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .and(header("content-type", "application/json"))
        .and(body_json(&expected))
        .respond_with(json(201, "cluster.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = ClusterBody {
        name: Some("Open Source".into()),
        description: Some("OSS builds".into()),
        emoji: Some(":technologist:".into()),
        color: Some("#FFE0F1".into()),
        maintainers: Some(json!({ "users": [], "teams": ["platform"] })),
        ..Default::default()
    };
    let cluster = api.client.create_cluster("acme", &body).await.unwrap();
    assert_eq!(cluster.id, CLUSTER);
    assert_eq!(only_request_body(&api.server).await, expected);
}

#[tokio::test]
async fn create_cluster_without_a_name_is_rejected_before_sending() {
    let api = api().await;
    let nameless = [
        ClusterBody {
            description: Some("no name".into()),
            ..Default::default()
        },
        ClusterBody {
            name: Some(String::new()),
            ..Default::default()
        },
        ClusterBody {
            name: Some("   ".into()),
            ..Default::default()
        },
    ];
    for body in &nameless {
        let err = api.client.create_cluster("acme", body).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("name")),
            "{body:?} gave {err:?}"
        );
    }
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn update_cluster_patches_only_set_fields() {
    let api = api().await;
    let expected = json!({
        "description": "Open source builds",
        "default_queue_id": QUEUE,
    });
    Mock::given(method("PATCH"))
        .and(path(cluster_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .and(body_json(&expected))
        .respond_with(json(200, "cluster.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = ClusterBody {
        description: Some("Open source builds".into()),
        default_queue_id: Some(QUEUE.into()),
        ..Default::default()
    };
    let cluster = api
        .client
        .update_cluster("acme", CLUSTER, &body)
        .await
        .unwrap();
    assert_eq!(cluster.color.as_deref(), Some("#FFE0F1"));
    assert_eq!(only_request_body(&api.server).await, expected);
}

#[tokio::test]
async fn list_cluster_queues_with_paging() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(queues_path()))
        .and(exact_query(&[("page", "1"), ("per_page", "100")]))
        .and(authorized())
        .respond_with(json(200, "cluster_queues.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_cluster_queues("acme", CLUSTER, &PageParams::new(1, 100))
        .await
        .unwrap();
    let keys: Vec<_> = page.items.iter().map(|q| q.key.as_str()).collect();
    assert_eq!(keys, ["default", "macos"]);
    assert_eq!(
        page.items[1].retry_agent_affinity.as_deref(),
        Some("prefer-different")
    );
}

#[tokio::test]
async fn get_cluster_queue_by_id() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(queue_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "cluster_queue.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let queue = api
        .client
        .get_cluster_queue("acme", CLUSTER, QUEUE)
        .await
        .unwrap();
    assert_eq!(queue.id, QUEUE);
    assert_eq!(queue.key, "default");
    assert_eq!(queue.dispatch_paused, Some(false));
    assert_eq!(queue.dispatch_paused_by, None);
}

#[tokio::test]
async fn create_cluster_queue_posts_its_fields() {
    let api = api().await;
    let expected = json!({
        "key": "macos",
        "description": "Apple silicon runners",
        "retry_agent_affinity": "prefer-different",
    });
    Mock::given(method("POST"))
        .and(path(queues_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .and(body_json(&expected))
        .respond_with(json(201, "cluster_queue.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = ClusterQueueBody {
        key: Some("macos".into()),
        description: Some("Apple silicon runners".into()),
        retry_agent_affinity: Some("prefer-different".into()),
    };
    let queue = api
        .client
        .create_cluster_queue("acme", CLUSTER, &body)
        .await
        .unwrap();
    assert_eq!(queue.id, QUEUE);
    assert_eq!(only_request_body(&api.server).await, expected);
}

#[tokio::test]
async fn create_cluster_queue_without_a_key_is_rejected_before_sending() {
    let api = api().await;
    let keyless = [
        ClusterQueueBody {
            description: Some("no key".into()),
            ..Default::default()
        },
        ClusterQueueBody {
            key: Some(" ".into()),
            ..Default::default()
        },
    ];
    for body in &keyless {
        let err = api
            .client
            .create_cluster_queue("acme", CLUSTER, body)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("key")),
            "{body:?} gave {err:?}"
        );
    }
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn update_cluster_queue_patches_only_set_fields() {
    let api = api().await;
    let expected = json!({ "description": "Default queue (linux)" });
    Mock::given(method("PATCH"))
        .and(path(queue_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .and(body_json(&expected))
        .respond_with(json(200, "cluster_queue.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = ClusterQueueBody {
        description: Some("Default queue (linux)".into()),
        ..Default::default()
    };
    let queue = api
        .client
        .update_cluster_queue("acme", CLUSTER, QUEUE, &body)
        .await
        .unwrap();
    assert_eq!(queue.key, "default");
    assert_eq!(only_request_body(&api.server).await, expected);
}

#[tokio::test]
async fn pause_dispatch_with_a_note() {
    let api = api().await;
    let expected = json!({ "dispatch_paused_note": "Investigating" });
    Mock::given(method("POST"))
        .and(path(format!("{}/pause_dispatch", queue_path())))
        .and(exact_query(&[]))
        .and(authorized())
        .and(body_json(&expected))
        .respond_with(json(200, "cluster_queue_paused.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let queue = api
        .client
        .pause_cluster_queue_dispatch("acme", CLUSTER, QUEUE, Some("Investigating"))
        .await
        .unwrap();
    assert_eq!(queue.dispatch_paused, Some(true));
    assert_eq!(queue.dispatch_paused_note.as_deref(), Some("Investigating"));
    assert_eq!(
        queue.dispatch_paused_by.unwrap().name.as_deref(),
        Some("Sam Kim")
    );
    assert_eq!(
        queue.dispatch_paused_at.unwrap().to_string(),
        "2023-05-03T04:19:43.118Z"
    );
    assert_eq!(only_request_body(&api.server).await, expected);
}

#[tokio::test]
async fn pause_dispatch_without_a_note_sends_an_empty_object() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path(format!("{}/pause_dispatch", queue_path())))
        .and(authorized())
        .and(body_json(json!({})))
        .respond_with(json(200, "cluster_queue_paused.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let queue = api
        .client
        .pause_cluster_queue_dispatch("acme", CLUSTER, QUEUE, None)
        .await
        .unwrap();
    assert_eq!(queue.dispatch_paused, Some(true));
    assert_eq!(only_request_body(&api.server).await, json!({}));
}

#[tokio::test]
async fn resume_dispatch() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path(format!("{}/resume_dispatch", queue_path())))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "cluster_queue.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let queue = api
        .client
        .resume_cluster_queue_dispatch("acme", CLUSTER, QUEUE)
        .await
        .unwrap();
    assert_eq!(queue.dispatch_paused, Some(false));
    assert_eq!(queue.dispatch_paused_note, None);
}

#[tokio::test]
async fn pausing_an_already_paused_queue_is_unprocessable() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path(format!("{}/pause_dispatch", queue_path())))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({ "message": "Cluster queue is already paused" })),
        )
        .expect(1)
        .mount(&api.server)
        .await;

    let err = api
        .client
        .pause_cluster_queue_dispatch("acme", CLUSTER, QUEUE, Some("again"))
        .await
        .unwrap_err();
    let Error::Unprocessable {
        ref request,
        ref message,
        ref errors,
    } = err
    else {
        panic!("expected Unprocessable, got {err:?}");
    };
    assert_eq!(message, "Cluster queue is already paused");
    assert!(errors.is_empty());
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.path, format!("{}/pause_dispatch", queue_path()));
    assert!(
        err.to_string()
            .ends_with("422 Unprocessable Entity: Cluster queue is already paused"),
        "{err}"
    );
}
