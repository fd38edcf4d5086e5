//! Real shared parts, started on 127.0.0.1 for the test: Redis
//! (`redis-server`), nginx (`nginx-light`) running `deploy/nginx/nginx.conf`,
//! and a Ceph RADOS Gateway (`radosgw`, `ceph-mon`, `ceph-osd`) through
//! `deploy/local/ceph-rgw.sh`.
//!
//! A part whose programs are missing makes the test skip loudly on a
//! developer's machine and fail in CI (`CI=true`), where `.ci/run` installs
//! them. `cargo xtask bench-scale` compiles this same file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// The S3 user the gateway is given.
pub const ACCESS_KEY: &str = "bkmcptestaccess";
/// Its secret (a test value, never a real one).
pub const SECRET_KEY: &str = "bkmcptestsecret0123456789";
/// The bucket the replicas share.
pub const BUCKET: &str = "bk-logs";

/// The workspace root: the first directory above this crate that holds
/// `deploy/nginx/nginx.conf` (this file is also compiled into xtask).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("deploy/nginx/nginx.conf").is_file())
        .expect("the workspace root (with deploy/nginx/nginx.conf)")
        .to_path_buf()
}

/// Whether every program in `programs` is on the PATH (or a path that exists).
fn found(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Checks that the programs a part needs are installed. Without them the
/// test is skipped with a loud message, or fails in CI.
pub fn require(part: &str, programs: &[&str], install: &str) -> bool {
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !found(p)).collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "SKIPPED: the multi-replica test needs {part} ({} not found). Install it with `{install}`, or run `.ci/run`, which does.",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{message} (CI=true: a missing component is a failure)");
    }
    eprintln!(
        "\n========================================================\n{message}\n========================================================\n"
    );
    false
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The first of `count` consecutive free ports on 127.0.0.1 (the gateway
/// takes its port and the next nine, for the monitor and the OSD). They
/// are below Linux's range for ports picked by the kernel (32768 and up),
/// so servers started on port 0 meanwhile do not take them.
pub fn free_port_block(count: u16) -> u16 {
    for _ in 0..200 {
        let first = fastrand::u16(20_000..32_000);
        let all_free = (first..first + count)
            .map(|port| std::net::TcpListener::bind(("127.0.0.1", port)))
            .collect::<Result<Vec<_>, _>>()
            .is_ok();
        if all_free {
            return first;
        }
    }
    panic!("no block of {count} free ports on 127.0.0.1")
}

/// Waits until something accepts connections on `port`.
pub async fn wait_for_port(what: &str, port: u16, limit: Duration) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < limit,
            "{what} did not listen on 127.0.0.1:{port} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A Redis server of our own.
#[derive(Debug)]
pub struct Redis {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl Redis {
    /// Starts `redis-server` on a free port: no persistence, loopback only.
    pub async fn start() -> Redis {
        let mut redis = Redis {
            child: None,
            port: free_port(),
        };
        redis.restart().await;
        redis
    }

    /// The URL replicas are given.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server (its data goes with it).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        wait_for_port("redis-server", self.port, Duration::from_secs(10)).await;
    }
}

/// nginx running the repository's configuration, with the test's ports.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `deploy/nginx/nginx.conf`, its `listen` port and
    /// upstream servers replaced by the test's.
    pub async fn start(upstream_ports: &[u16]) -> Nginx {
        let conf = std::fs::read_to_string(workspace().join("deploy/nginx/nginx.conf"))
            .expect("deploy/nginx/nginx.conf");
        let port = free_port();
        let servers: String = upstream_ports
            .iter()
            .map(|p| format!("        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"))
            .collect();
        let mut out = String::new();
        let mut replaced_upstream = false;
        for line in conf.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("server replica-") {
                if !replaced_upstream {
                    out.push_str(&servers);
                    replaced_upstream = true;
                }
            } else if trimmed.starts_with("listen ") {
                out.push_str(&format!("        listen 127.0.0.1:{port};\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        assert!(
            replaced_upstream,
            "nginx.conf has no `server replica-…` lines"
        );
        let dir = tempfile::tempdir().expect("nginx dir");
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, out).expect("write nginx.conf");
        let globals = format!(
            "daemon off; pid {}; error_log {} warn;",
            dir.path().join("nginx.pid").display(),
            dir.path().join("error.log").display()
        );
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-g")
            .arg(globals)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx starts");
        wait_for_port("nginx", port, Duration::from_secs(10)).await;
        Nginx {
            child,
            port,
            _dir: dir,
        }
    }

    /// The URL of `path` through the proxy.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops nginx.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// nginx's path: on the PATH, or Debian's `/usr/sbin/nginx`.
pub fn nginx_binary() -> &'static str {
    if found("nginx") {
        "nginx"
    } else {
        "/usr/sbin/nginx"
    }
}

/// A Ceph RADOS Gateway: a real S3 server.
#[derive(Debug)]
pub struct Gateway {
    dir: tempfile::TempDir,
    /// Its port.
    pub port: u16,
}

fn script() -> PathBuf {
    workspace().join("deploy/local/ceph-rgw.sh")
}

async fn try_script(args: &[&str]) -> Result<(), String> {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("bash runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ceph-rgw.sh {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

async fn run_script(args: &[&str]) {
    if let Err(failure) = try_script(args).await {
        panic!("{failure}");
    }
}

impl Gateway {
    /// Starts a one-node cluster and its gateway, and creates the bucket.
    /// Ports are picked free, but another process may take one meanwhile:
    /// a start that fails is tried again on other ports, twice.
    pub async fn start() -> Gateway {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("bk-rgw-")
                .tempdir()
                .expect("gateway dir");
            let port = free_port_block(10);
            let path = dir.path().display().to_string();
            match try_script(&["start", &path, &port.to_string(), ACCESS_KEY, SECRET_KEY]).await {
                Ok(()) => {
                    let gateway = Gateway { dir, port };
                    run_script(&["mkbucket", &path, BUCKET]).await;
                    return gateway;
                }
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "the gateway did not start in 3 tries:\n{}",
            failures.join("\n---\n")
        );
    }

    /// The endpoint replicas are given as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables a replica needs to reach the gateway.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// Stops the gateway only (the cluster and its data stay).
    pub async fn stop_gateway(&self) {
        run_script(&["stop-rgw", &self.dir.path().display().to_string()]).await;
    }

    /// Starts the gateway again and waits until it answers.
    pub async fn start_gateway(&self) {
        run_script(&["start-rgw", &self.dir.path().display().to_string()]).await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
