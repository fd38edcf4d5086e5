//! The MCP registry entry (`server.json`) and the `Dockerfile` it points at
//! agree with the server: same version, same registry name, and every
//! environment variable the entry declares is one the server reads.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn server_json() -> Value {
    serde_json::from_str(&repo_file("server.json")).expect("server.json is JSON")
}

#[test]
fn version_and_required_fields() {
    let server = server_json();
    assert_eq!(
        server["version"],
        env!("CARGO_PKG_VERSION"),
        "server.json version"
    );
    assert!(
        server["$schema"]
            .as_str()
            .is_some_and(|s| s.starts_with("https://static.modelcontextprotocol.io/schemas/")),
        "server.json names the registry schema"
    );
    let name = server["name"].as_str().expect("name");
    assert_eq!(
        name.matches('/').count(),
        1,
        "name is namespace/server: {name}"
    );
    let description = server["description"].as_str().expect("description");
    assert!(
        (1..=100).contains(&description.chars().count()),
        "the registry allows 1 to 100 characters of description"
    );

    let packages = server["packages"].as_array().expect("packages");
    assert!(!packages.is_empty());
    for package in packages {
        assert_eq!(package["transport"]["type"], "stdio");
        if package["registryType"] == "oci" {
            let identifier = package["identifier"].as_str().expect("identifier");
            assert!(
                identifier.ends_with(&format!(":{}", env!("CARGO_PKG_VERSION"))),
                "the image tag is the crate version: {identifier}"
            );
        }
    }
}

#[test]
fn declared_variables_are_read_by_the_server() {
    let help = Command::new(env!("CARGO_BIN_EXE_bk-mcp-stdio"))
        .arg("--help")
        .output()
        .expect("run bk-mcp-stdio --help");
    let help = String::from_utf8_lossy(&help.stdout);
    let server = server_json();
    let mut secrets = Vec::new();
    for package in server["packages"].as_array().expect("packages") {
        for variable in package["environmentVariables"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let name = variable["name"].as_str().expect("variable name");
            assert!(
                help.contains(&format!("[env: {name}")),
                "server.json declares {name}, which bk-mcp-stdio does not read"
            );
            if variable["isSecret"] == true {
                secrets.push(name.to_owned());
            }
        }
    }
    assert_eq!(
        secrets,
        ["BUILDKITE_API_TOKEN"],
        "the token is the one secret"
    );
}

#[test]
fn dockerfile_matches_the_registry_entry() {
    let dockerfile = repo_file("Dockerfile");
    let server = server_json();
    let name = server["name"].as_str().expect("name");
    // The registry pulls the image and checks this label against `name`.
    assert!(
        dockerfile.contains(&format!("io.modelcontextprotocol.server.name=\"{name}\"")),
        "the Dockerfile labels the image with the registry name {name}"
    );
    assert!(
        dockerfile.contains(&format!("ARG VERSION={}", env!("CARGO_PKG_VERSION"))),
        "the Dockerfile's VERSION is the crate version"
    );
    assert!(
        dockerfile.contains("USER 65532:65532"),
        "the image runs as non-root"
    );
    assert!(
        dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/bk-mcp-stdio\"]"),
        "the registry entry's stdio transport needs the stdio binary as entrypoint"
    );
}
