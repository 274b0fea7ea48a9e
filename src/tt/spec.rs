//! The `tt` section of a config: its type (part of the JSON Schema) and the rule that gives the
//! model id tt-inference-server's reports use (`id_{impl}_{model}_{device}`), inferring the
//! model and device from the server, the targets or base_config when they are not set.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::names::{NAME_DEVICES, device_problem, model_id as id_of, name_problem};
use crate::model::diagnostic::Diagnostic;

/// Where the model and device can be inferred from, in order after `tt` itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct Inferred<'a> {
    /// `server.model` and `server.device` of a tt-inference-server server.
    pub server: Option<(&'a str, &'a str)>,
    /// `targets.model`, `targets.device`.
    pub targets_model: Option<&'a str>,
    pub targets_device: Option<&'a str>,
    /// The basename of base_config's `model`.
    pub served: Option<&'a str>,
}

/// tt-inference-server's model id of the model under test: `id_{impl}_{model}_{device}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TtConfig {
    /// tt's implementation name, as in its model spec (`tt-transformers`,
    /// `llama3-70b-galaxy`, `tt-vllm-plugin`, ...).
    #[serde(rename = "impl")]
    #[schemars(length(min = 1), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub impl_name: String,
    /// tt's model name: the Hugging Face repo's basename (`Llama-3.3-70B-Instruct`). Default:
    /// `server.model` of a tt-inference-server server, else `targets.model`, else the basename
    /// of base_config's `model`.
    #[serde(default)]
    #[schemars(length(min = 1), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub model: Option<String>,
    /// tt's device, lowercase, one its aiperf report reads back from file names. Default:
    /// `server.device` of a tt-inference-server server, else `targets.device`.
    #[serde(default)]
    #[schemars(schema_with = "tt_device_schema")]
    pub device: Option<String>,
}

fn tt_device_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "enum": NAME_DEVICES })
}

/// tt-inference-server's model id from the `tt` section, its model and device defaulted from the
/// server and targets sections; problems go to `report` (diagnostic, at the key?).
pub fn model_id(
    tt: &TtConfig,
    from: &Inferred<'_>,
    mut report: impl FnMut(Diagnostic, bool),
) -> Option<String> {
    let server = from.server;
    // (value, where it came from)
    let model = tt
        .model
        .as_deref()
        .map(|m| (m, "/tt/model"))
        .or_else(|| server.map(|s| (s.0, "/server/model")))
        .or_else(|| from.targets_model.map(|m| (m, "/targets/model")))
        .or_else(|| from.served.map(|m| (m, "/base_config/model")));
    let device = tt
        .device
        .as_deref()
        .map(|d| (d, "/tt/device"))
        .or_else(|| server.map(|s| (s.1, "/server/device")))
        .or_else(|| from.targets_device.map(|d| (d, "/targets/device")));
    let mut ok = true;
    if let Some(p) = name_problem(&tt.impl_name) {
        report(
            Diagnostic::new("/tt/impl", format!("tt's implementation name: {p}")).hint(
                "use the impl name of tt-inference-server's model spec, e.g. `tt-transformers`",
            ),
            false,
        );
        ok = false;
    }
    match model {
        None => {
            report(
                Diagnostic::new("/tt", "tt's model name is not set and cannot be inferred")
                    .hint("set `tt.model` to the Hugging Face repo's basename, e.g. `Llama-3.3-70B-Instruct`"),
                true,
            );
            ok = false;
        }
        Some((m, at)) => {
            if let Some(p) = name_problem(m) {
                report(
                    Diagnostic::new(at, format!("tt's model name: {p}"))
                        .hint("set `tt.model` to the Hugging Face repo's basename, e.g. `Llama-3.3-70B-Instruct`"),
                    false,
                );
                ok = false;
            }
        }
    }
    match device {
        None => {
            report(
                Diagnostic::new("/tt", "tt's device is not set and cannot be inferred")
                    .hint(format!("set `tt.device` to one of {}", NAME_DEVICES.join(", "))),
                true,
            );
            ok = false;
        }
        Some((d, at)) => {
            if let Some(p) = device_problem(d) {
                let hint = if at == "/tt/device" {
                    format!("use one of {}", NAME_DEVICES.join(", "))
                } else {
                    format!(
                        "the device comes from `{}`; set `tt.device` to one of {}",
                        at.trim_start_matches('/').replace('/', "."),
                        NAME_DEVICES.join(", ")
                    )
                };
                report(Diagnostic::new(at, p).hint(hint), false);
                ok = false;
            }
        }
    }
    match (ok, model, device) {
        (true, Some((m, _)), Some((d, _))) => Some(id_of(&tt.impl_name, m, d)),
        _ => None,
    }
}
