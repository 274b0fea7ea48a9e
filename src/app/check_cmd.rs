//! `sweeper validate`, `sweeper plan` and `sweeper setup`: the commands that run nothing.

use std::path::Path;

use crate::app::error::{EXIT_OK, Error};
use crate::app::output::{err_line, out_line, out_text};
use crate::app::{check_shards, load_and_plan, print_warnings, warn_empty_shards};
use crate::config::{self};

/// `sweeper plan X --shards N`.
pub(super) fn plan_cmd(
    file: &Path,
    shards: usize,
    max_combinations: Option<u64>,
) -> Result<u8, Error> {
    check_shards(shards)?;
    let (cfg, plan) = load_and_plan(file, max_combinations)?;
    print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
    let parts = crate::scaleout::shard::assign(&plan, shards);
    out_text(&crate::app::dry_run::shards_text(&plan, &parts));
    warn_empty_shards(&parts);
    Ok(EXIT_OK)
}

pub(super) fn validate(file: &Path, max_combinations: Option<u64>) -> Result<u8, Error> {
    let (cfg, plan) = load_and_plan(file, max_combinations)?;
    print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
    out_line(&format!("ok: `{}` is valid: {}", file.display(), plan.size_text()));
    Ok(EXIT_OK)
}

pub(super) fn setup(file: Option<&Path>) -> Result<u8, Error> {
    let settings = match file {
        Some(f) => load_and_plan(f, None)?.0.aiperf,
        None => config::AiperfSettings::default(),
    };
    let mut log = |l: &str| err_line(&format!("sweeper: {l}"));
    let a = crate::run::venv::ensure(&settings, &mut log)?;
    let t = crate::run::venv::offline_tokenizer(&a, &mut log)?;
    out_line(&format!(
        "aiperf {} ready: {}\noffline tokenizer: {}",
        a.version,
        a.exe.display(),
        t.display()
    ));
    Ok(EXIT_OK)
}
