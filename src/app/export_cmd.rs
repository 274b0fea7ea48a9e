//! `sweeper export slurm|k8s|tt`: a sweep as a Slurm array or a Kubernetes Indexed Job, or a
//! batch as one flat tt-inference-server folder.

use std::path::Path;

use crate::app::cli::{ExportCommand, K8sArgs, SlurmArgs, TtArgs};
use crate::app::error::{EXIT_OK, Error};
use crate::app::output::{err_text, out_line};
use crate::app::{check_shards, key_vars, load_and_plan, warn_empty_shards, write_or_print};

/// `sweeper export ...`.
pub(super) fn export_cmd(what: ExportCommand) -> Result<u8, Error> {
    match what {
        ExportCommand::Slurm(a) => slurm(a),
        ExportCommand::K8s(a) => k8s(a),
        ExportCommand::Tt(a) => tt(a),
    }
}

/// `sweeper export slurm`: the sbatch script.
fn slurm(a: SlurmArgs) -> Result<u8, Error> {
    let SlurmArgs { config, shards, partition, gpus_per_task, time, sweeper, output } = a;
    check_shards(shards)?;
    if let Some(p) = &partition {
        crate::scaleout::slurm::check("partition", p, "_,.-", "see `man sbatch`")?;
    }
    if let Some(t) = &time {
        crate::scaleout::slurm::check_time(t)?;
    }
    let (cfg, plan) = load_and_plan(&config, None)?;
    warn_empty_shards(&crate::scaleout::shard::assign(&plan, shards));
    let cwd = std::env::current_dir().map_err(|e| {
        Error::usage(format!("no working directory: {e}"), "run from an existing directory")
    })?;
    let abs = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
    let job = crate::scaleout::slurm::SlurmJob {
        batch_name: cfg.batch_name.clone(),
        shards,
        partition,
        gpus_per_task,
        time,
        sweeper: sweeper
            .unwrap_or_else(|| std::env::current_exe().unwrap_or_else(|_| "sweeper".into())),
        config: abs(&config),
        workdir: cwd.clone(),
        batch_parent: abs(&cfg.output_base_dir).join(&cfg.batch_name),
        key_vars: key_vars(&plan),
    };
    write_or_print(output.as_deref(), &crate::scaleout::slurm::script(&job))
}

/// `sweeper export k8s`: the ConfigMap, Indexed Job and merge Job.
fn k8s(a: K8sArgs) -> Result<u8, Error> {
    let K8sArgs {
        config,
        shards,
        image,
        gpus,
        pvc,
        pvc_size,
        namespace,
        secret,
        batch_id,
        merge_deadline_s,
        output,
    } = a;
    check_shards(shards)?;
    let batch_id = match batch_id {
        Some(id) => crate::scaleout::shard::batch_id(&id)?,
        None => chrono::Local::now().format("%Y%m%d_%H%M%S").to_string(),
    };
    for (what, v) in [("pvc", &pvc), ("namespace", &namespace), ("secret", &secret)] {
        if crate::scaleout::k8s::dns_name(v, 63) != *v {
            return Err(Error::usage(
                format!("--{what} `{v}` is not a Kubernetes name"),
                "lowercase letters, digits and `-`, starting and ending with a letter or digit",
            ));
        }
    }
    if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
        return Err(Error::usage(
            format!("--image `{image}` is not an image reference"),
            "e.g. `--image registry.example.com/sweeper:0.1`",
        ));
    }
    if let Some(s) = &pvc_size {
        crate::scaleout::slurm::check("pvc-size", s, ".", "e.g. `--pvc-size 20Gi`")?;
    }
    let (cfg, plan) = load_and_plan(&config, None)?;
    crate::scaleout::k8s::on_claim(&cfg.output_base_dir)?;
    warn_empty_shards(&crate::scaleout::shard::assign(&plan, shards));
    let parent = cfg.output_base_dir.join(&cfg.batch_name);
    let job = crate::scaleout::k8s::K8sJob {
        batch_name: cfg.batch_name.clone(),
        config_text: cfg.source.clone(),
        batch_parent: parent.display().to_string(),
        shards,
        image,
        gpus,
        pvc,
        pvc_size,
        namespace,
        secret,
        batch_id,
        key_vars: key_vars(&plan),
        merge_deadline_s,
    };
    let yaml = crate::scaleout::k8s::manifests(&job)?;
    write_or_print(output.as_deref(), &yaml)
}

/// `sweeper export tt`: every run's tt file in one flat folder.
fn tt(a: TtArgs) -> Result<u8, Error> {
    let TtArgs { batch_dir, to, impl_name, model, device, split_by } = a;
    let results = crate::results::collect(&batch_dir)?;
    let model_id = match (impl_name, model, device) {
        (Some(i), Some(m), Some(d)) => {
            for (flag, problem) in [
                ("--impl", crate::tt::names::name_problem(&i)),
                ("--model", crate::tt::names::name_problem(&m)),
                ("--device", crate::tt::names::device_problem(&d)),
            ] {
                if let Some(p) = problem {
                    return Err(Error::usage(
                        format!("{flag}: {p}"),
                        format!(
                            "tt's model id is id_{{impl}}_{{model}}_{{device}}, e.g. id_tt-transformers_Llama-3.3-70B-Instruct_t3k; devices: {}",
                            crate::tt::names::NAME_DEVICES.join(", ")
                        ),
                    ));
                }
            }
            crate::tt::names::model_id(&i, &m, &d)
        }
        _ => results.tt_model_id.clone().ok_or_else(|| {
            Error::usage(
                format!(
                    "`{}` has no tt-inference-server model id: its config has no `tt` section",
                    batch_dir.display()
                ),
                "pass --impl, --model and --device (e.g. --impl tt-transformers --model Llama-3.3-70B-Instruct --device t3k), or add a `tt` section to the config",
            )
        })?,
    };
    let done = crate::tt::export::export(&results, &to, &model_id, &split_by)?;
    for (index, point, why) in &done.skipped {
        err_text(&format!("warning: no tt file for #{index} `{point}`: {why}\n"));
    }
    let folders = if done.folders.len() == 1 {
        format!("`{}`", done.folders[0].display())
    } else {
        format!("{} folders under `{}`", done.folders.len(), to.display())
    };
    out_line(&format!(
        "wrote {} tt-inference-server file(s) named `aiperf_benchmark_{model_id}_*.json` into {}{}",
        done.written.len(),
        if done.folders.is_empty() { format!("`{}`", to.display()) } else { folders },
        if done.unchanged.is_empty() {
            String::new()
        } else {
            format!(" ({} already there, unchanged)", done.unchanged.len())
        }
    ));
    if !done.skipped.is_empty() {
        out_line(&format!(
            "skipped {} point(s) tt cannot represent (see the warnings above)",
            done.skipped.len()
        ));
    }
    out_line(
        "tt's report workflow reads them from `$CACHE_ROOT/workflow_logs/benchmarks_output/` (else `<tt-inference-server>/workflow_logs/benchmarks_output/`)",
    );
    Ok(EXIT_OK)
}
