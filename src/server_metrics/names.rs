//! The canonical server figures and the table that maps each server's Prometheus names to them
//! (vLLM, SGLang, TensorRT-LLM, Dynamo's frontend, llama.cpp), as aiperf's export names them.

use serde::Serialize;

/// What a server measures, whatever it calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Requests admitted and running (in the batch).
    Running,
    /// Requests waiting for admission (the queue).
    Waiting,
    /// Share of the KV cache in use (a fraction in the server; percent after `scale`).
    KvCache,
    /// Requests preempted (evicted for lack of KV space, recomputed later).
    Preemptions,
    /// Prompt tokens found in the prefix cache.
    PrefixHits,
    /// Prompt tokens looked up in the prefix cache.
    PrefixQueries,
    PromptTokens,
    GenerationTokens,
    /// The server's own time to first token (a histogram, seconds).
    ServerTtft,
    /// Time from arrival to admission (a histogram, seconds).
    QueueTime,
}

/// The Prometheus type of a metric, as aiperf's export gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Gauge,
    /// aiperf drops the `_total` suffix and gives `total` (the change over the profiling window)
    /// and `rate`.
    Counter,
    /// `count`, `sum`, `avg`, `p.._estimate`; a token histogram's `sum` is its token count.
    Histogram,
}

/// One row of the mapping: a server's metric that measures a [`Quantity`].
#[derive(Debug)]
pub struct Mapping {
    /// `vllm`, `sglang`, `trtllm`, `dynamo`, `llama.cpp`.
    pub server: &'static str,
    /// The name in aiperf's `server_metrics_export.json` (a counter without `_total`).
    pub name: &'static str,
    pub quantity: Quantity,
    pub kind: Kind,
    /// Factor to the canonical unit: 100 for a fraction to percent, 1000 for seconds to ms.
    pub scale: f64,
}

const fn row(
    server: &'static str,
    name: &'static str,
    quantity: Quantity,
    kind: Kind,
    scale: f64,
) -> Mapping {
    Mapping { server, name, quantity, kind, scale }
}

use Kind::{Counter, Gauge, Histogram};
use Quantity::*;

/// Every server's names, in priority order: for each quantity the first row present in a run's
/// export is used (so vLLM's current `kv_cache_usage_perc` wins over the older
/// `gpu_cache_usage_perc`). Prefix-cache hit rates come from the counters' changes over the
/// window (hits / queries), never from a server's hit-rate gauge.
pub static MAPPINGS: &[Mapping] = &[
    row("vllm", "vllm:num_requests_running", Running, Gauge, 1.0),
    row("vllm", "vllm:num_requests_waiting", Waiting, Gauge, 1.0),
    row("vllm", "vllm:kv_cache_usage_perc", KvCache, Gauge, 100.0),
    row("vllm", "vllm:gpu_cache_usage_perc", KvCache, Gauge, 100.0),
    row("vllm", "vllm:num_preemptions", Preemptions, Counter, 1.0),
    row("vllm", "vllm:prefix_cache_hits", PrefixHits, Counter, 1.0),
    row("vllm", "vllm:gpu_prefix_cache_hits", PrefixHits, Counter, 1.0),
    row("vllm", "vllm:prefix_cache_queries", PrefixQueries, Counter, 1.0),
    row("vllm", "vllm:gpu_prefix_cache_queries", PrefixQueries, Counter, 1.0),
    row("vllm", "vllm:prompt_tokens", PromptTokens, Counter, 1.0),
    row("vllm", "vllm:generation_tokens", GenerationTokens, Counter, 1.0),
    row("vllm", "vllm:time_to_first_token_seconds", ServerTtft, Histogram, 1000.0),
    row("vllm", "vllm:request_queue_time_seconds", QueueTime, Histogram, 1000.0),
    row("sglang", "sglang:num_running_reqs", Running, Gauge, 1.0),
    row("sglang", "sglang:num_queue_reqs", Waiting, Gauge, 1.0),
    row("sglang", "sglang:token_usage", KvCache, Gauge, 100.0),
    row("sglang", "sglang:cached_tokens", PrefixHits, Counter, 1.0),
    row("sglang", "sglang:prompt_tokens", PrefixQueries, Counter, 1.0),
    row("sglang", "sglang:prompt_tokens", PromptTokens, Counter, 1.0),
    row("sglang", "sglang:generation_tokens", GenerationTokens, Counter, 1.0),
    row("sglang", "sglang:time_to_first_token_seconds", ServerTtft, Histogram, 1000.0),
    row("sglang", "sglang:queue_time_seconds", QueueTime, Histogram, 1000.0),
    row("trtllm", "trtllm_num_requests_running", Running, Gauge, 1.0),
    row("trtllm", "trtllm_num_requests_waiting", Waiting, Gauge, 1.0),
    row("trtllm", "trtllm_kv_cache_utilization", KvCache, Gauge, 100.0),
    row("trtllm", "trtllm_prompt_cached_tokens", PrefixHits, Counter, 1.0),
    row("trtllm", "trtllm_prompt_tokens", PrefixQueries, Counter, 1.0),
    row("trtllm", "trtllm_prompt_tokens", PromptTokens, Counter, 1.0),
    row("trtllm", "trtllm_generation_tokens", GenerationTokens, Counter, 1.0),
    row("trtllm", "trtllm_time_to_first_token_seconds", ServerTtft, Histogram, 1000.0),
    row("trtllm", "trtllm_request_queue_time_seconds", QueueTime, Histogram, 1000.0),
    row("dynamo", "dynamo_frontend_inflight_requests", Running, Gauge, 1.0),
    row("dynamo", "dynamo_frontend_queued_requests", Waiting, Gauge, 1.0),
    row("dynamo", "dynamo_component_kvstats_gpu_cache_usage_percent", KvCache, Gauge, 100.0),
    row("dynamo", "dynamo_frontend_input_sequence_tokens", PromptTokens, Histogram, 1.0),
    row("dynamo", "dynamo_frontend_output_sequence_tokens", GenerationTokens, Histogram, 1.0),
    row("dynamo", "dynamo_frontend_time_to_first_token_seconds", ServerTtft, Histogram, 1000.0),
    row("llama.cpp", "llamacpp:requests_processing", Running, Gauge, 1.0),
    row("llama.cpp", "llamacpp:requests_deferred", Waiting, Gauge, 1.0),
    row("llama.cpp", "llamacpp:kv_cache_usage_ratio", KvCache, Gauge, 100.0),
    row("llama.cpp", "llamacpp:prompt_tokens", PromptTokens, Counter, 1.0),
    row("llama.cpp", "llamacpp:tokens_predicted", GenerationTokens, Counter, 1.0),
];

/// How a figure is taken from its quantity over the profiling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Take {
    /// A gauge's mean over the scrapes.
    Avg,
    /// A gauge's largest scrape.
    Max,
    /// A counter's change (or a token histogram's sum) over the window.
    Total,
    /// A histogram's mean (`sum / count`).
    HistAvg,
    /// A histogram's p99, as aiperf estimates it from the buckets.
    HistP99,
    /// 100 x hits / queries, both counter changes over the window.
    HitRate,
}

/// One canonical figure of a point, as reports and `summary.json` show it.
#[derive(Debug)]
pub struct FigureDef {
    /// Key in `summary.json` and the column of `summary.csv` (prefixed `server_`).
    pub key: &'static str,
    /// Label in tables.
    pub label: &'static str,
    pub unit: &'static str,
    pub quantity: Quantity,
    pub take: Take,
    pub about: &'static str,
}

const fn fig(
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    quantity: Quantity,
    take: Take,
    about: &'static str,
) -> FigureDef {
    FigureDef { key, label, unit, quantity, take, about }
}

/// The canonical figures, in report order.
pub static FIGURES: &[FigureDef] = &[
    fig(
        "running_avg",
        "Running avg",
        "requests",
        Running,
        Take::Avg,
        "requests in the running batch, mean over the scrapes",
    ),
    fig(
        "running_max",
        "Running max",
        "requests",
        Running,
        Take::Max,
        "requests in the running batch, largest scrape",
    ),
    fig(
        "waiting_avg",
        "Queue avg",
        "requests",
        Waiting,
        Take::Avg,
        "requests waiting for admission, mean over the scrapes",
    ),
    fig(
        "waiting_max",
        "Queue max",
        "requests",
        Waiting,
        Take::Max,
        "requests waiting for admission, largest scrape",
    ),
    fig(
        "kv_cache_avg_pct",
        "KV cache avg",
        "%",
        KvCache,
        Take::Avg,
        "share of the KV cache in use, mean over the scrapes",
    ),
    fig(
        "kv_cache_max_pct",
        "KV cache max",
        "%",
        KvCache,
        Take::Max,
        "share of the KV cache in use, largest scrape",
    ),
    fig(
        "preemptions",
        "Preemptions",
        "requests",
        Preemptions,
        Take::Total,
        "requests preempted for lack of KV space during the window",
    ),
    fig(
        "prefix_hit_pct",
        "Prefix hits",
        "%",
        PrefixHits,
        Take::HitRate,
        "prompt tokens found in the prefix cache / prompt tokens looked up, counter changes over the window",
    ),
    fig(
        "prompt_tokens",
        "Prompt tokens",
        "tokens",
        PromptTokens,
        Take::Total,
        "prompt tokens processed during the window",
    ),
    fig(
        "generation_tokens",
        "Generated tokens",
        "tokens",
        GenerationTokens,
        Take::Total,
        "tokens generated during the window",
    ),
    fig(
        "ttft_avg_ms",
        "Server TTFT avg",
        "ms",
        ServerTtft,
        Take::HistAvg,
        "the server's own time to first token, mean",
    ),
    fig(
        "ttft_p99_ms",
        "Server TTFT p99",
        "ms",
        ServerTtft,
        Take::HistP99,
        "the server's own time to first token, p99 estimated from its histogram buckets",
    ),
    fig(
        "queue_time_avg_ms",
        "Queue time avg",
        "ms",
        QueueTime,
        Take::HistAvg,
        "time from arrival to admission, mean",
    ),
];

/// The figure keyed `key` (`waiting_avg`).
pub fn figure(key: &str) -> Option<&'static FigureDef> {
    FIGURES.iter().find(|f| f.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quantity_with_a_figure_has_a_vllm_name_and_keys_are_unique() {
        let mut keys: Vec<&str> = FIGURES.iter().map(|f| f.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), FIGURES.len());
        for f in FIGURES {
            assert!(
                MAPPINGS.iter().any(|m| m.server == "vllm" && m.quantity == f.quantity),
                "{}",
                f.key
            );
        }
        // Counters are named as aiperf's export names them: without `_total`.
        assert!(MAPPINGS.iter().all(|m| !m.name.ends_with("_total")));
    }
}
