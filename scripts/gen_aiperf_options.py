#!/usr/bin/env python3
"""Generate src/model/aiperf_options.rs from aiperf's verbatim `profile --help` text.

Usage: python3 scripts/gen_aiperf_options.py ../shared/reference/aiperf-0.13.0-profile-help.txt > src/model/aiperf_options.rs

The help text gives flags, aliases, choices and defaults; the value types that it leaves implicit
are declared in INTS / NUMBERS / SPECIAL below, read from each option's description.
"""
import re, sys

INTS = {  # flag -> minimum
    'concurrency': 1, 'prefill-concurrency': 1, 'request-count': 1, 'warmup-request-count': 0,
    'random-seed': 0, 'prompt-input-tokens-mean': 0, 'prompt-output-tokens-mean': 1,
    'num-dataset-entries': 1, 'conversation-num': 1, 'workers-max': 1,
    'record-processor-service-count': 1, 'num-warmup-sessions': 1, 'warmup-concurrency': 1,
    'warmup-prefill-concurrency': 1, 'num-users': 1, 'max-context-length': 1,
    'prompt-input-tokens-block-size': 1, 'shared-system-prompt-length': 1,
    'user-context-prompt-length': 1, 'synthesis-max-isl': 1, 'synthesis-max-osl': 1,
    'video-width': 1, 'video-height': 1, 'api-port': 1, 'accuracy-n-shots': 0,
    'search-max-iterations': 1, 'search-initial-points': 1, 'search-random-seed': 0,
    'isl-min': 1, 'isl-max': 1, 'isl-steps': 2, 'concurrency-min': 1, 'concurrency-max': 1,
    'concurrency-steps': 2, 'osl-min': 1, 'osl-max': 1, 'osl-steps': 2, 'num-profile-runs': 1,
    'conversation-turn-mean': 1, 'conversation-turn-stddev': 0, 'prompt-batch-size': 1,
    'audio-batch-size': 1, 'image-batch-size': 1, 'video-batch-size': 1,
    'prompt-prefix-pool-size': 0, 'prompt-prefix-length': 0, 'rankings-passages-mean': 1,
    'rankings-passages-stddev': 0, 'rankings-passages-prompt-token-mean': 1,
    'rankings-passages-prompt-token-stddev': 0, 'rankings-query-prompt-token-mean': 1,
    'rankings-query-prompt-token-stddev': 0, 'audio-num-channels': 1, 'video-fps': 1,
    'video-audio-sample-rate': 1, 'video-audio-num-channels': 0, 'request-timeout-seconds': 1,
    'synthesis-prefix-root-multiplier': 1,
}
POSITIVE = {  # numbers that must be > 0
    'benchmark-duration', 'request-rate', 'arrival-smoothness', 'warmup-duration',
    'warmup-request-rate', 'user-centric-rate', 'slice-duration', 'reset-kv-cache-timeout-seconds',
    'server-profiler-timeout-seconds', 'replay-speedup', 'ttft-sla-ms', 'itl-sla-ms', 'tpot-sla-ms',
    'e2e-sla-ms', 'network-latency-ping-interval', 'synthesis-speedup-ratio', 'video-duration',
}
NONNEG = {  # numbers that must be >= 0
    'prompt-input-tokens-stddev', 'prompt-output-tokens-stddev', 'wait-for-model-timeout',
    'wait-for-model-interval', 'concurrency-ramp-duration', 'prefill-concurrency-ramp-duration',
    'request-rate-ramp-duration', 'warmup-grace-period', 'warmup-concurrency-ramp-duration',
    'warmup-prefill-concurrency-ramp-duration', 'warmup-request-rate-ramp-duration',
    'request-cancellation-rate', 'request-cancellation-delay', 'conversation-turn-delay-mean',
    'conversation-turn-delay-stddev', 'conversation-turn-delay-ratio', 'inter-turn-delay-cap-seconds',
    'max-idle-gap-cap-seconds', 'trace-idle-gap-cap-seconds', 'system-idle-gap-cap-seconds',
    'agentic-cache-warmup-duration', 'agentic-warmup-grace-period', 'audio-length-mean',
    'audio-length-stddev', 'image-width-mean', 'image-width-stddev', 'image-height-mean',
    'image-height-stddev', 'profile-run-cooldown-seconds', 'parameter-sweep-cooldown-seconds',
    'stats-interval', 'network-latency-mean', 'fixed-schedule-start-offset',
    'fixed-schedule-end-offset', 'failed-request-threshold', 'trace-session-sample-ratio',
    'random-range-ratio', 'trajectory-start-min-ratio', 'trajectory-start-max-ratio',
    'synthesis-prefix-len-multiplier', 'synthesis-prompt-len-multiplier',
    'synthesis-output-len-multiplier', 'confidence-level', 'convergence-threshold',
    'degradation-threshold', 'error-rate-sla', 'slo-attainment-fraction',
}
KEYVALUES = {'extra-inputs', 'header', 'mlflow-tag'}   # list of 'k:v' strings, or a mapping
GOODPUT = {'goodput'}                                   # one argument: 'tag:value tag:value'
SCALAR = {'benchmark-grace-period'}                     # a number or "inf"

def parse(path):
    lines = open(path, encoding='utf-8').read().splitlines()
    opts, section, cur = [], None, None
    for ln in lines:
        m = re.match(r'^╭─ (.*?) ─', ln)
        if m:
            section = m.group(1).strip(); continue
        if not ln.startswith('│'):
            continue
        body = ln[1:].rstrip().rstrip('│').rstrip()
        m = re.match(r'^ (--\S.*?)(\s{2,}(.*))?$', body)
        if m and body.startswith(' --'):
            cur = {'section': section, 'flags': m.group(1).split(), 'desc': (m.group(3) or '').strip()}
            opts.append(cur)
        elif cur is not None:
            cur['desc'] += ' ' + body.strip()
    for o in opts:
        d = o['desc']
        ch = re.search(r'\[choices: ([^\]]*)\]', d)
        df = re.search(r'\[default: (.*?)\]\s*$', d) or re.search(r'\[default: ([^\]]*)\]', d)
        o['choices'] = [c.strip() for c in ch.group(1).split(',')] if ch else None
        o['default'] = df.group(1) if df else None
        o['desc'] = re.sub(r'\s+', ' ', re.sub(r'\[(choices|default): [^\]]*\]', '', d)).strip()
    return opts

def rs(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

def short_help(desc):
    # First sentence, at most ~220 characters: enough for an editor tooltip.
    m = re.match(r'(.+?\.)(\s|$)', desc)
    s = m.group(1) if m else desc
    return s if len(s) <= 220 else s[:217].rstrip() + '...'

# Options whose help lists choices but that also take a local path (`--image-source assets |
# noise | DIR`): free strings, checked by sweeper's path rules (src/config/paths.rs).
FREE_STRINGS = {'image-source'}

def kind(o, primary, has_negation):
    d = o['default']
    if has_negation: return 'OptKind::Bool'
    if primary in FREE_STRINGS: return 'OptKind::Str'
    if primary in GOODPUT: return 'OptKind::Goodput'
    if primary in KEYVALUES: return 'OptKind::KeyValues'
    if primary in SCALAR: return 'OptKind::Scalar'
    if d in ('False', 'True'): return 'OptKind::Bool'
    if o['choices'] and not (d or '').startswith('['):
        return 'OptKind::Enum(&[' + ', '.join(rs(c) for c in o['choices']) + '])'
    if d is not None and d.startswith('['): return 'OptKind::List'
    if primary in INTS: return 'OptKind::Int { min: %d }' % INTS[primary]
    if primary in POSITIVE: return 'OptKind::Number { min: 0.0, exclusive: true }'
    if primary in NONNEG: return 'OptKind::Number { min: 0.0, exclusive: false }'
    if d is not None and re.fullmatch(r'-?\d+', d): return 'OptKind::Int { min: i64::MIN }'
    if d is not None and re.fullmatch(r'-?\d+\.\d*', d): return 'OptKind::Number { min: f64::MIN, exclusive: false }'
    return 'OptKind::Str'

def main():
    opts = parse(sys.argv[1])
    print('//! aiperf 0.13.0 `profile` options, one entry per option: GENERATED by')
    print('//! `scripts/gen_aiperf_options.py` from `aiperf profile --help`; do not edit by hand.')
    print('//! The table drives the config schema, key aliases, validation and the aiperf argv.')
    print()
    print('use super::options::{AiperfOption, OptKind};')
    print()
    print('/// Every `aiperf profile` option of aiperf 0.13.0, in the order of its help text.')
    print('pub static OPTIONS: &[AiperfOption] = &[')
    for o in opts:
        longs = [f[2:] for f in o['flags'] if f.startswith('--')]
        neg = [f for f in longs if f.startswith('no-') and len(longs) > 1]
        pos = [f for f in longs if f not in neg]
        primary = pos[0]
        print('    AiperfOption {')
        print('        flags: &[' + ', '.join(rs(f) for f in pos) + '],')
        print('        negation: ' + (('Some(' + rs(neg[0]) + ')') if neg else 'None') + ',')
        print('        kind: ' + kind(o, primary, bool(neg)) + ',')
        print('        section: ' + rs(o['section']) + ',')
        print('        help: ' + rs(short_help(o['desc'])) + ',')
        print('    },')
    print('];')

main()
