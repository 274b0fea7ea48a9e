//! The exact command that starts each kind of server (pure: the run stage executes it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::config::ServerConfig;

/// How to start one server process.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub argv: Vec<String>,
    /// Environment variables with values written in the config.
    pub env: BTreeMap<String, String>,
    /// Environment variables passed from sweeper's own environment (values never shown).
    pub env_passthrough: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// For docker: the container name, so stopping can also `docker stop` it.
    pub container: Option<String>,
    /// Base URL the server will answer on (`None` for the mock until its port is known).
    pub url: Option<String>,
    /// The health path the server section names (`None`: see [`health`]).
    pub health_path: Option<String>,
    pub startup_timeout_s: f64,
    pub stop_grace_s: f64,
}

/// Paths probed, in order, when no health path is configured: OpenAI-compatible servers,
/// vLLM and most gateways, and NeMo Guardrails (the NeMo runner's default).
pub const PROBE_PATHS: [&str; 3] = ["/v1/models", "/health", "/v1/rails/configs"];

/// How a server's readiness is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// GET this path until it answers 2xx (configured: strict).
    Path(String),
    /// Nothing configured: the first of [`PROBE_PATHS`] to answer 2xx means ready; a server
    /// that answers HTTP on all of them without 2xx (and without 503, "not ready") is used with
    /// a warning; only while nothing answers (refused, timeout) is it waited for.
    Probe,
}

impl Health {
    /// What did not happen, for an error message: `GET /health did not answer 2xx`.
    pub fn failure(&self) -> String {
        match self {
            Health::Path(p) => format!("GET {p} did not answer 2xx"),
            Health::Probe => format!("none of GET {} answered 2xx", PROBE_PATHS.join(", ")),
        }
    }

    /// For `--dry-run` and messages.
    pub fn describe(&self) -> String {
        match self {
            Health::Path(p) => format!("GET {p} until 2xx"),
            Health::Probe => format!(
                "the first 2xx of GET {} (no health path configured; answered without 2xx: go on with a warning)",
                PROBE_PATHS.join(", ")
            ),
        }
    }
}

/// The health check of a combination's server: the server section's `health_path`, else
/// base_config's `health_check_endpoint` (the NeMo runner's key), else the probe list.
pub fn health(server: Option<&ServerConfig>, health_check_endpoint: Option<&str>) -> Health {
    let configured = match server {
        Some(ServerConfig::Mock(_) | ServerConfig::LlamaCpp { .. }) => Some("/health".to_owned()),
        Some(
            ServerConfig::External { health_path, .. }
            | ServerConfig::Command { health_path, .. }
            | ServerConfig::Docker { health_path, .. }
            | ServerConfig::TtInferenceServer { health_path, .. },
        ) => health_path.clone(),
        Some(ServerConfig::Kubernetes(k)) => k.health_path.clone(),
        None => None,
    };
    match configured.or_else(|| health_check_endpoint.map(str::to_owned)) {
        Some(p) => Health::Path(p),
        None => Health::Probe,
    }
}

/// A docker container name from the batch name and server id.
pub fn container_name(batch_name: &str, server_id: &str) -> String {
    let clean: String = batch_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    format!("sweeper-{clean}-{server_id}")
}

/// The launch of a server; `None` for `external` (nothing to start).
/// `program` is sweeper's own executable (for `mock`, which is started on port 0: it picks a
/// free port itself and prints `listening on URL`, which the run stage reads).
/// One arm per server kind; each builds its command line with a function of its own.
pub fn launch(
    server: &ServerConfig,
    batch_name: &str,
    server_id: &str,
    program: &str,
) -> Option<Launch> {
    match server {
        // Nothing to start here: the run stage deploys it with kubectl (`run::kube`).
        ServerConfig::External { .. } | ServerConfig::Kubernetes(_) => None,
        ServerConfig::Command {
            argv,
            env,
            cwd,
            url,
            health_path,
            startup_timeout_s,
            stop_grace_s,
        } => Some(Launch {
            env: env.clone(),
            cwd: cwd.clone(),
            ..started(argv.clone(), Some(url), health_path, *startup_timeout_s, *stop_grace_s)
        }),
        ServerConfig::LlamaCpp { .. } => llama_cpp_launch(server),
        ServerConfig::Docker {
            image,
            args,
            ports,
            mounts,
            env,
            env_passthrough,
            docker_args,
            docker_bin,
            url,
            health_path,
            startup_timeout_s,
            stop_grace_s,
        } => {
            let name = container_name(batch_name, server_id);
            let mut argv = vec![docker_bin.clone(), "run".into(), "--rm".into(), "--name".into()];
            argv.push(name.clone());
            argv.extend(docker_run_options(ports, mounts, env, env_passthrough));
            argv.extend(docker_args.iter().cloned());
            argv.push(image.clone());
            argv.extend(args.iter().cloned());
            Some(Launch {
                env_passthrough: env_passthrough.clone(),
                container: Some(name),
                ..started(argv, Some(url), health_path, *startup_timeout_s, *stop_grace_s)
            })
        }
        ServerConfig::TtInferenceServer {
            repo_dir,
            model,
            device,
            python,
            extra_args,
            url,
            health_path,
            startup_timeout_s,
            stop_grace_s,
        } => Some(Launch {
            cwd: Some(repo_dir.clone()),
            ..started(
                tt_run_argv(python, model, device, extra_args),
                Some(url),
                health_path,
                *startup_timeout_s,
                *stop_grace_s,
            )
        }),
        ServerConfig::Mock(params) => {
            Some(started(mock_argv(program, params), None, &Some("/health".into()), 60.0, 5.0))
        }
    }
}

/// The launch of `argv` answering at `url`: no environment, no working directory, no container.
fn started(
    argv: Vec<String>,
    url: Option<&str>,
    health_path: &Option<String>,
    startup_timeout_s: f64,
    stop_grace_s: f64,
) -> Launch {
    Launch {
        argv,
        env: BTreeMap::new(),
        env_passthrough: Vec::new(),
        cwd: None,
        container: None,
        url: url.map(str::to_owned),
        health_path: health_path.clone(),
        startup_timeout_s,
        stop_grace_s,
    }
}

/// The launch of a `llama-cpp` server: its command line, health at `/health`.
fn llama_cpp_launch(server: &ServerConfig) -> Option<Launch> {
    let ServerConfig::LlamaCpp { url, env, startup_timeout_s, stop_grace_s, .. } = server else {
        return None;
    };
    let health = Some("/health".to_owned());
    let argv = llama_cpp_argv(server)?;
    Some(Launch {
        env: env.clone(),
        ..started(argv, Some(url), &health, *startup_timeout_s, *stop_grace_s)
    })
}

/// `llama-server`'s command line for a `llama-cpp` server (`None` for another kind).
pub fn llama_cpp_argv(server: &ServerConfig) -> Option<Vec<String>> {
    let ServerConfig::LlamaCpp {
        model,
        alias,
        parallel,
        ctx_size,
        threads,
        extra_args,
        executable,
        url,
        ..
    } = server
    else {
        return None;
    };
    let (host, port) = crate::util::url::host_port(url).unwrap_or(("127.0.0.1".into(), 8080));
    let alias = alias.clone().unwrap_or_else(|| {
        model
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().trim_end_matches(".gguf").to_owned())
    });
    let mut argv = vec![executable.clone(), "-m".into(), model.display().to_string()];
    argv.extend(["--alias".into(), alias, "--host".into(), host, "--port".into()]);
    argv.push(port.to_string());
    argv.extend(["--parallel".into(), parallel.to_string(), "-c".into()]);
    argv.push(ctx_size.unwrap_or(parallel.saturating_mul(2048)).to_string());
    if let Some(t) = threads {
        argv.extend(["--threads".into(), t.to_string(), "--threads-batch".into(), t.to_string()]);
    }
    argv.extend(["--metrics".into(), "--no-webui".into()]);
    argv.extend(extra_args.iter().cloned());
    Some(argv)
}

/// The `docker run` options of a container's ports, mounts and environment.
fn docker_run_options(
    ports: &[String],
    mounts: &[String],
    env: &BTreeMap<String, String>,
    env_passthrough: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    for p in ports {
        out.extend(["-p".into(), p.clone()]);
    }
    for m in mounts {
        out.extend(["-v".into(), m.clone()]);
    }
    for (k, v) in env {
        out.extend(["-e".into(), format!("{k}={v}")]);
    }
    for k in env_passthrough {
        // `-e NAME` copies the value from docker's environment: it never appears in argv.
        out.extend(["-e".into(), k.clone()]);
    }
    out
}

/// tt-inference-server's `run.py` serving `model` on `device` in docker.
fn tt_run_argv(python: &str, model: &str, device: &str, extra_args: &[String]) -> Vec<String> {
    let mut argv = vec![
        python.to_owned(),
        "run.py".into(),
        "--model".into(),
        model.to_owned(),
        "--device".into(),
        device.to_owned(),
        "--workflow".into(),
        "server".into(),
        "--docker-server".into(),
    ];
    argv.extend(extra_args.iter().cloned());
    argv
}

/// `sweeper mock-server` on a free port of 127.0.0.1, with the flags of the parameters that
/// differ from the defaults (so the command reads clearly).
fn mock_argv(program: &str, params: &crate::mockserver::MockParams) -> Vec<String> {
    let mut argv = vec![
        program.to_owned(),
        "mock-server".into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        "0".into(),
    ];
    let defaults =
        serde_json::to_value(crate::mockserver::MockParams::default()).unwrap_or(Value::Null);
    if let Ok(Value::Object(fields)) = serde_json::to_value(params) {
        for (k, v) in fields.into_iter().filter(|(k, v)| defaults.get(k) != Some(v)) {
            let flag = format!("--{}", k.replace('_', "-"));
            match v {
                Value::Null | Value::Bool(false) => {}
                Value::Bool(true) => argv.push(flag),
                Value::String(s) => argv.extend([flag, s]),
                other => argv.extend([flag, other.to_string()]),
            }
        }
    }
    argv
}
