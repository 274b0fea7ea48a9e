//! What a batch is measured with (`provenance.json`): the host (name, CPUs, kernel, OS, GPUs
//! from `nvidia-smi`) and each server's identity (kind, how it was started, its `/v1/models`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::ServerConfig;
use crate::plan::Combination;
use crate::records::{Gpu, Host, ServerIdentity};
use crate::util::redact::Redactor;

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The output of a short command, `None` when it is missing, fails or takes more than `limit`.
fn output_within(cmd: &str, args: &[&str], limit: Duration) -> Option<String> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut()?, &mut out).ok()?;
    Some(out)
}

/// The GPUs `nvidia-smi` lists (none when it does not exist or does not answer in 10 s).
pub fn gpus() -> Vec<Gpu> {
    if !super::conditions::nvidia_smi_present() {
        return Vec::new();
    }
    let Some(out) = output_within(
        "nvidia-smi",
        &["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
        Duration::from_secs(10),
    ) else {
        return Vec::new();
    };
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            Gpu {
                name: f.first().copied().unwrap_or_default().to_owned(),
                driver: f.get(1).copied().unwrap_or_default().to_owned(),
                memory: f.get(2).map(|s| (*s).to_owned()),
            }
        })
        .collect()
}

/// This machine.
pub fn host() -> Host {
    let os = std::fs::read_to_string("/etc/os-release").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned()))
    });
    Host {
        hostname: read_trim("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown".into()),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
        os,
        gpus: gpus(),
    }
}

/// How the server of `c` was started, in one line (secrets masked).
fn launch_line(c: &Combination, url: &str, redactor: &Redactor) -> String {
    let line = match c.server.as_deref() {
        None | Some(ServerConfig::External { .. }) => format!("external at {url}"),
        Some(ServerConfig::Command { argv, .. }) => crate::plan::argv::shell_line(argv),
        Some(s @ ServerConfig::LlamaCpp { .. }) => crate::plan::argv::shell_line(
            &crate::plan::server::llama_cpp_argv(s).unwrap_or_default(),
        ),
        Some(ServerConfig::Docker { image, args, .. }) => {
            let mut v = vec![image.clone()];
            v.extend(args.iter().cloned());
            format!("docker {}", crate::plan::argv::shell_line(&v))
        }
        Some(ServerConfig::TtInferenceServer { model, device, extra_args, .. }) => {
            let mut v = vec![
                "run.py".to_owned(),
                "--model".into(),
                model.clone(),
                "--device".into(),
                device.clone(),
            ];
            v.extend(extra_args.iter().cloned());
            crate::plan::argv::shell_line(&v)
        }
        Some(ServerConfig::Kubernetes(k)) => {
            let vars: Vec<String> = k.vars.iter().map(|(n, v)| format!("{n}={v}")).collect();
            format!("kubectl apply -f {} (vars: {})", k.manifest.display(), vars.join(", "))
        }
        Some(ServerConfig::Mock(p)) => {
            format!("sweeper mock-server {}", serde_json::to_string(p).unwrap_or_default())
        }
    };
    redactor.redact(&line)
}

/// The identity of the server of `c`, reachable at `url`: its launch, the models aiperf is given
/// and what `GET /v1/models` answers (5 s at most; `None` when it does not answer JSON).
pub async fn identity(
    c: &Combination,
    url: &str,
    bearer: Option<&str>,
    redactor: &Redactor,
) -> ServerIdentity {
    let models = match c.get("model") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    let mut v1_models = None;
    if let Ok(client) = reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
        let mut req = client.get(super::server::join_url(url, "/v1/models"));
        if let Some(k) = bearer {
            req = req.bearer_auth(k);
        }
        if let Ok(resp) = req.send().await
            && resp.status().is_success()
            && let Ok(bytes) = resp.bytes().await
            && bytes.len() <= 256 * 1024
        {
            v1_models = serde_json::from_slice::<Value>(&bytes).ok();
        }
    }
    let mut served_models: Vec<String> = v1_models
        .as_ref()
        .and_then(|v| v["data"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect();
    served_models.sort();
    ServerIdentity {
        kind: c.server.as_deref().map_or("external", |s| s.kind()).to_owned(),
        launch: launch_line(c, url, redactor),
        url: url.to_owned(),
        models,
        served_models,
        v1_models,
        kubernetes: None,
    }
}
