//! Whether a Kubernetes object is ready by a readiness rule, judged from `kubectl get -o
//! json`: ready, failed (no use waiting), or still waiting (and what it shows meanwhile).

use serde_json::Value;

use crate::plan::kube::Rule;

/// What an object's status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// It will not become ready (Dynamo's `failed` state, a Deployment past its progress
    /// deadline): why.
    Failed(String),
    /// Not yet: what its status shows.
    Waiting(String),
}

/// Condition `kind` of the object (`(status, reason, message)`).
fn condition<'a>(obj: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind).map(|c| {
        (
            c["status"].as_str().unwrap_or(""),
            c["reason"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or(""),
        )
    })
}

/// The object's status in one line: state, conditions, replicas.
pub fn summary(obj: &Value) -> String {
    let st = &obj["status"];
    let mut parts = Vec::new();
    if let Some(s) = st["state"].as_str() {
        parts.push(format!("state {s}"));
    }
    for c in st["conditions"].as_array().into_iter().flatten() {
        let mut t = format!(
            "{}={}",
            c["type"].as_str().unwrap_or("?"),
            c["status"].as_str().unwrap_or("?")
        );
        if let Some(r) = c["reason"].as_str().filter(|r| !r.is_empty()) {
            t.push_str(&format!(" ({r}"));
            if let Some(m) = c["message"].as_str().filter(|m| !m.is_empty()) {
                t.push_str(&format!(": {m}"));
            }
            t.push(')');
        }
        parts.push(t);
    }
    let want = obj["spec"]["replicas"].as_u64();
    if let Some(r) = want {
        let n = |k: &str| st[k].as_u64().unwrap_or(0);
        parts.push(format!(
            "replicas {r}: {} updated, {} ready, {} available",
            n("updatedReplicas"),
            n("readyReplicas"),
            n("availableReplicas")
        ));
    }
    if parts.is_empty() { "no status yet".into() } else { parts.join(", ") }
}

/// Judges `obj` by `rule` (a jsonpath rule is judged by kubectl itself: see [`jsonpath`]).
pub fn judge(rule: &Rule, obj: &Value) -> Verdict {
    let waiting = || Verdict::Waiting(summary(obj));
    match rule {
        Rule::Dynamo => {
            let state = obj["status"]["state"].as_str().unwrap_or("");
            if state == "failed" {
                return Verdict::Failed(format!("the deployment failed: {}", summary(obj)));
            }
            let ready = condition(obj, "Ready").is_some_and(|(s, ..)| s == "True");
            if ready && state == "successful" { Verdict::Ready } else { waiting() }
        }
        Rule::Condition(kind) => match condition(obj, kind) {
            Some(("True", ..)) => Verdict::Ready,
            _ => waiting(),
        },
        Rule::JsonPath { .. } => waiting(),
        Rule::Rollout => rollout(obj),
    }
}

/// `kubectl rollout status`'s rule for a Deployment or StatefulSet.
fn rollout(obj: &Value) -> Verdict {
    let (spec, st, meta) = (&obj["spec"], &obj["status"], &obj["metadata"]);
    if let Some(("False", "ProgressDeadlineExceeded", msg)) = condition(obj, "Progressing") {
        return Verdict::Failed(format!("its rollout exceeded its progress deadline: {msg}"));
    }
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let generation = n(&meta["generation"]);
    let observed = n(&st["observedGeneration"]);
    let want = spec["replicas"].as_u64().unwrap_or(1);
    let updated = n(&st["updatedReplicas"]);
    let available = n(&st["availableReplicas"]).max(n(&st["readyReplicas"]));
    let total = st["replicas"].as_u64().unwrap_or(updated);
    if observed >= generation && updated >= want && total <= updated && available >= want {
        Verdict::Ready
    } else {
        Verdict::Waiting(summary(obj))
    }
}

/// Judges a jsonpath rule from what `kubectl get -o jsonpath=PATH` printed.
pub fn jsonpath(printed: &str, equals: &str) -> Verdict {
    if printed.trim() == equals {
        Verdict::Ready
    } else {
        Verdict::Waiting(format!("the jsonpath shows `{}`", printed.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dgd(state: &str, ready: &str) -> Value {
        json!({"status": {"state": state, "conditions": [
            {"type": "Ready", "status": ready, "reason": "PodCrashLoop", "message": "worker restarts"}
        ]}})
    }

    #[test]
    fn dynamo_needs_the_condition_and_the_state_and_fails_on_failed() {
        assert_eq!(judge(&Rule::Dynamo, &dgd("successful", "True")), Verdict::Ready);
        assert!(matches!(judge(&Rule::Dynamo, &dgd("pending", "True")), Verdict::Waiting(_)));
        assert!(matches!(judge(&Rule::Dynamo, &dgd("successful", "False")), Verdict::Waiting(_)));
        match judge(&Rule::Dynamo, &dgd("failed", "False")) {
            Verdict::Failed(why) => {
                assert!(
                    why.contains("state failed") && why.contains("PodCrashLoop: worker restarts"),
                    "{why}"
                );
            }
            v => panic!("{v:?}"),
        }
        assert!(
            matches!(judge(&Rule::Dynamo, &json!({})), Verdict::Waiting(s) if s == "no status yet")
        );
    }

    #[test]
    fn rollout_as_kubectl_judges_it() {
        let d = |generation: u64, obs: u64, upd: u64, avail: u64| {
            json!({"metadata": {"generation": generation}, "spec": {"replicas": 2},
                   "status": {"observedGeneration": obs, "replicas": 2, "updatedReplicas": upd, "availableReplicas": avail}})
        };
        assert_eq!(judge(&Rule::Rollout, &d(2, 2, 2, 2)), Verdict::Ready);
        assert!(matches!(judge(&Rule::Rollout, &d(2, 1, 2, 2)), Verdict::Waiting(_)));
        assert!(matches!(judge(&Rule::Rollout, &d(2, 2, 1, 2)), Verdict::Waiting(_)));
        assert!(matches!(judge(&Rule::Rollout, &d(2, 2, 2, 1)), Verdict::Waiting(_)));
        let stuck = json!({"status": {"conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"x\" has timed out progressing."}]}});
        assert!(
            matches!(judge(&Rule::Rollout, &stuck), Verdict::Failed(m) if m.contains("timed out"))
        );
    }

    #[test]
    fn a_condition_and_a_jsonpath() {
        let c = Rule::Condition("Available".into());
        let obj = json!({"status": {"conditions": [{"type": "Available", "status": "True"}]}});
        assert_eq!(judge(&c, &obj), Verdict::Ready);
        assert!(matches!(judge(&c, &json!({})), Verdict::Waiting(_)));
        assert_eq!(jsonpath("successful\n", "successful"), Verdict::Ready);
        assert!(
            matches!(jsonpath("pending", "successful"), Verdict::Waiting(s) if s.contains("pending"))
        );
    }
}
